"""Migrations on real PostgreSQL + TimescaleDB (the Apache edition here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from helpers import settings_env, sql_rows

from macroinfra.migrations import LOCK_KEY, head_revision
from macroinfra.timescale.spec import HYPERTABLES


def test_upgrade_creates_every_table_and_hypertable_as_declared(db_cli, database):
    result = db_cli("migrate", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["before"] is None and doc["after"] == head_revision() and doc["changed"] is True

    tables = {
        r[0]
        for r in sql_rows(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables == {
        "data_sources",
        "instruments",
        "series_metadata",
        "market_data",
        "macro_series",
        "curves",
        "flow_data",
        "fiscal_data",
        "vol_surfaces",
        "signals",
        "alembic_version",
    }
    dims = {
        r[0]: (r[1], r[2], r[3])
        for r in sql_rows(
            database,
            "SELECT hypertable_name, column_name, column_type::text, time_interval "
            "FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public'",
        )
    }
    # DESIGN.md's table, as TimescaleDB stores it (a month is 30 days, a year 12 months).
    tz, d = "timestamp with time zone", "date"
    assert dims == {
        "market_data": ("timestamp", tz, timedelta(days=30)),
        "macro_series": ("observation_date", d, timedelta(days=360)),
        "curves": ("curve_date", d, timedelta(days=90)),
        "flow_data": ("observation_date", d, timedelta(days=360)),
        "fiscal_data": ("observation_date", d, timedelta(days=360)),
        "vol_surfaces": ("surface_date", d, timedelta(days=360)),
        "signals": ("signal_date", d, timedelta(days=360)),
    }


def test_apache_edition_is_reported_and_compression_left_off(db_cli, database):
    result = db_cli("migrate")
    assert result.exit_code == 0
    (license_,) = sql_rows(database, "SHOW timescaledb.license")[0]
    if license_ != "apache":
        pytest.skip("this server runs the Community edition")
    assert "compression not applied" in result.stderr and "Apache edition" in result.stderr
    assert "Community edition" in result.stderr  # the fix
    enabled = sql_rows(
        database, "SELECT bool_or(compression_enabled) FROM timescaledb_information.hypertables"
    )
    assert enabled == [(False,)]


def test_every_timestamp_column_is_timestamptz(migrated):
    rows = sql_rows(
        migrated,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'",
    )
    assert rows, "expected timestamp columns"
    assert {r[2] for r in rows} == {"timestamp with time zone"}


def test_up_down_up(db_cli, database):
    assert db_cli("migrate").exit_code == 0
    refused = db_cli("migrate", "down", "--to", "base")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert sql_rows(database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]

    down = db_cli("migrate", "down", "--to", "base", "--yes", "--json")
    assert down.exit_code == 0, down.output
    assert json.loads(down.stdout)["after"] is None
    left = sql_rows(
        database,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'alembic_version'",
    )
    assert left == []
    assert sql_rows(database, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'") == []

    again = db_cli("migrate", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["applied"] == [head_revision()]


def _some_rows(settings) -> dict[str, int]:
    """A few rows in three tables: what a downgrade to base would drop with them."""
    from datetime import UTC, datetime, timedelta

    from macroinfra.data.loader import load

    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        load(conn, "data_sources", [{"name": "kept?"}])
        load(conn, "instruments", [{"ticker": "SPX", "name": "S&P 500", "asset_class": "equity"}])
        (spx,) = conn.execute("SELECT id FROM instruments").fetchone()
        t0 = datetime(2024, 1, 2, 21, tzinfo=UTC)
        bars = [
            {"instrument_id": spx, "timestamp": t0 + timedelta(days=d), "frequency": "daily"}
            | {"close": 100 + d}
            for d in range(3)
        ]
        load(conn, "market_data", bars)
        conn.execute("ANALYZE")
    return {"data_sources": 1, "instruments": 1, "market_data": 3}


def _on_a_terminal(settings, *args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a terminal as its stdin (so it asks), answering `answer`."""
    import pty

    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-c", "from macroinfra.cli import main; main()", *args],
            env={**os.environ, **settings_env(settings), "NO_COLOR": "1"},
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(controller)
        os.close(terminal)


def test_migrate_down_asks_naming_the_database_host_and_the_tables_it_drops(migrated):
    rows = _some_rows(migrated)
    where = f"database {migrated.postgres_db!r} at 127.0.0.1:{migrated.postgres_port}"
    result = _on_a_terminal(migrated, "migrate", "down", "--to", "base", answer="n")
    assert result.returncode == 1, result.stderr
    question = result.stderr.splitlines()
    assert question[0] == f"Migrate {where} down from {head_revision()} to base (empty)?"
    assert question[1] == "These 10 tables holding 5 rows will be dropped with their data:"
    listed = dict(line.split() for line in question[2:12])
    empty = {"signals", "macro_series", "flow_data", "fiscal_data", "vol_surfaces", "curves"}
    assert listed == dict.fromkeys(empty | {"series_metadata"}, "0") | {
        t: str(n) for t, n in rows.items()
    }
    assert question[12].startswith("Drop them [y/N]:")
    assert "cancelled: nothing was changed" in result.stderr
    assert sql_rows(migrated, "SELECT count(*) FROM market_data") == [(3,)]

    done = _on_a_terminal(migrated, "migrate", "down", "--to", "base", answer="y")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # the prompt leaves nothing on stdout
    assert lines[0].startswith(f"reverted {head_revision()} (shipped): initial schema")
    assert lines[1] == f"migrated {head_revision()} -> empty ({head_revision()}) in {where}"
    assert lines[2] == "dropped 10 tables holding 5 rows:"
    assert dict(line.split() for line in lines[4:]) == listed
    assert sql_rows(migrated, "SELECT to_regclass('market_data')") == [(None,)]


def test_migrate_down_json_lists_the_dropped_tables_with_their_rows(db_cli, migrated):
    rows = _some_rows(migrated)
    result = db_cli("migrate", "down", "--to", "base", "--yes", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["database"], doc["host"]) == (
        migrated.postgres_db,
        f"127.0.0.1:{migrated.postgres_port}",
    )
    dropped = {t["table"]: (t["rows"], t["estimated"]) for t in doc["dropped"]}
    assert len(dropped) == 10
    assert {t: dropped[t] for t in rows} == {t: (n, False) for t, n in rows.items()}


def test_tables_too_big_to_count_quickly_show_the_planners_estimate(db_cli, migrated, monkeypatch):
    from macroinfra.timescale import teardown

    _some_rows(migrated)
    monkeypatch.setattr(teardown, "EXACT_UP_TO", 2)  # market_data (3 rows) is "big"
    result = db_cli("migrate", "down", "--to", "base", "--yes")
    assert result.exit_code == 0, result.output
    assert "dropped 10 tables holding ~5 rows:" in result.stdout
    listed = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[3:]}
    assert listed["market_data"] == ["~3", "(estimate)"] and listed["instruments"] == ["1"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("+1", "revision '+1' is not at or below the current revision 0001"),
        ("-2", "cannot go down 2 revisions: 0001 is 1 above base"),
    ],
)
def test_a_target_that_is_not_below_is_refused_before_asking(db_cli, migrated, target, message):
    result = db_cli("migrate", "down", "--to", target, "--yes")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == f"error: {message}"
    assert sql_rows(migrated, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_unknown_target_revision_is_refused_before_asking(db_cli, migrated):
    result = db_cli("migrate", "down", "--to", "nope", "--yes", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "error": "unknown revision 'nope'",
        "hint": "see `macroinfra migrate history`; a revision of your own needs "
        "MACROINFRA_MIGRATIONS_DIR",
        "problems": [],
        "exit_code": 2,
    }
    assert sql_rows(migrated, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


@pytest.mark.parametrize("target", ["", "  "])
def test_an_empty_target_revision_is_a_usage_error(cli, target):
    result = cli("migrate", "down", "--to", target, "--yes")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == "error: no revision given: --to is empty"
    assert cli("migrate", "sql", "--to", target).exit_code == 2


def test_migrate_at_head_is_a_no_op(db_cli):
    assert db_cli("migrate").exit_code == 0
    result = db_cli("migrate", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["changed"] is False and doc["applied"] == []


def test_status_reports_pending_then_nothing(db_cli):
    before = json.loads(db_cli("migrate", "status", "--json").stdout)
    assert before["current"] is None and before["at_head"] is False
    assert [p["revision"] for p in before["pending"]] == [head_revision()]
    db_cli("migrate")
    after = json.loads(db_cli("migrate", "status", "--json").stdout)
    assert after["current"] == after["head"] and after["pending"] == [] and after["at_head"]


def test_history_lists_the_initial_revision(cli):
    result = cli("migrate", "history", "--json")
    assert result.exit_code == 0
    revisions = json.loads(result.stdout)["revisions"]
    assert revisions[0]["revision"] == head_revision() and revisions[0]["is_head"]
    assert revisions[0]["origin"] == "shipped"


def test_offline_sql_needs_no_server_and_guards_compression_by_edition(cli):
    result = cli("migrate", "sql", env={"POSTGRES_PORT": "1"})
    assert result.exit_code == 0, result.output
    sql = result.stdout
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in sql
    assert sql.count("create_hypertable(") == len(HYPERTABLES)
    assert "current_setting('timescaledb.license', true) = 'timescale'" in sql
    assert "add_compression_policy(''market_data'', INTERVAL ''30 days''" in sql


def test_autogenerate_finds_no_drift_after_upgrade(db_cli):
    assert db_cli("migrate").exit_code == 0
    result = db_cli("migrate", "check", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"schema_version": 1, "drift": False, "differences": []}


def test_check_lists_drift_and_exits_1(db_cli, migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE instruments DROP COLUMN exchange")
        conn.execute("CREATE INDEX ix_extra ON curves (rate)")
    result = db_cli("migrate", "check")
    assert result.exit_code == 1
    assert "add column: instruments.exchange" in result.stdout
    assert "remove index: curves.ix_extra" in result.stdout


def test_failed_migration_leaves_previous_revision(db_cli, database):
    with psycopg.connect(database.libpq_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE signals (x int)")  # collides with the migration
    result = db_cli("migrate")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: migration failed, the database is unchanged:")
    assert 'relation "signals" already exists' in result.stderr
    assert "Traceback" not in result.output
    tables = {
        r[0]
        for r in sql_rows(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables == {"signals"}  # nothing else was created, not even alembic_version


def test_unknown_revision_is_one_clear_line(db_cli, migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    for args in (["migrate"], ["migrate", "status"]):
        result = db_cli(*args)
        assert result.exit_code == 1
        assert "revision f00dfeed, which this macroinfra does not know" in result.stderr
        assert "Traceback" not in result.output


def test_database_down_is_one_clear_line(cli):
    from helpers import free_port

    port = free_port()
    result = cli("migrate", env={"POSTGRES_PORT": str(port), "POSTGRES_PASSWORD": "hunter2"})
    assert result.exit_code == 1
    assert f"PostgreSQL is not answering at 127.0.0.1:{port}" in result.stderr
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_wrong_password_is_reported_as_authentication_failure(db_cli):
    result = db_cli("migrate", env={"POSTGRES_PASSWORD": "wrong-password"})
    assert result.exit_code == 1
    assert "rejected the credentials" in result.stderr
    assert "wrong-password" not in result.output


def _migrate_process(settings) -> subprocess.Popen[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.Popen(
        [sys.executable, "-c", "from macroinfra.cli import main; main()", "migrate", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _advisory_waiters(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()[0]


def test_two_concurrent_migrators_one_applies_the_other_waits(database):
    # Hold the migration lock so both processes are certainly running at once, release it
    # once both wait on it, and check that exactly one applied the migration.
    with psycopg.connect(database.libpq_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        procs = [_migrate_process(database), _migrate_process(database)]
        deadline = time.monotonic() + 30
        while _advisory_waiters(holder) < 2:
            assert time.monotonic() < deadline, "both migrators should be waiting on the lock"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    docs = sorted((json.loads(out) for out, _ in outputs), key=lambda d: len(d["applied"]))
    assert docs[0]["applied"] == [] and docs[0]["after"] == head_revision()
    assert docs[1]["applied"] == [head_revision()]
    assert all(d["waited_for_lock"] for d in docs)
    assert sql_rows(database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_one_edition_reader_serves_the_probe_migration_compression_and_demo(database, monkeypatch):
    """timescale.edition.read_server is the one reader of the edition: replace what it says,
    and the doctor probe, the migration, migrate's compression step and the demo all follow."""
    from dataclasses import replace
    from datetime import date

    from macroinfra import migrations
    from macroinfra.data.demo import seed_demo
    from macroinfra.db import Database
    from macroinfra.probes import timescaledb
    from macroinfra.probes.runner import Budget
    from macroinfra.timescale import edition

    real = edition.read_server
    asked: list[str] = []  # the driver each caller reads over
    says: dict[str, object] = {}

    def reader(connection):
        asked.append(type(connection).__module__.split(".")[0])
        return replace(real(connection), **says)

    monkeypatch.setattr(edition, "read_server", reader)

    says.update(license="timescale", extension_version="9.9.9")
    (check,) = timescaledb.probe(database, Budget(time.monotonic() + 5))
    assert (check.status, check.detail.split(", ", 1)[1]) == (
        "ok",
        "TimescaleDB 9.9.9 (Community edition)",
    )
    assert asked == ["psycopg"]

    # No extension, says the reader: neither the migration nor the step after it touches
    # compression, so neither says why it was not applied (Apache) or that it was (Community).
    asked.clear()
    says.clear()
    says.update(extension_version=None)
    db = Database(database)
    try:
        result = migrations.upgrade(db)
        assert result.after == head_revision() and result.notes == []
        assert asked == ["sqlalchemy", "sqlalchemy"]  # the migration's, then migrate's

        # The Community edition, says the reader: the demo compresses (none is due here).
        asked.clear()
        says.clear()
        says.update(license="timescale")
        seeded = seed_demo(db, years=1, instruments=1, end=date(2020, 6, 30))
        assert seeded.compressed_chunks == 0  # None: the edition has no compression
        assert asked == ["psycopg"]
    finally:
        db.dispose()
