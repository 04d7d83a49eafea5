"""`macroinfra schema show`: values cross-checked against TimescaleDB's own views and functions,
declared vs actual, a fixed number of catalog queries, and TABLE never pasted into SQL."""

from __future__ import annotations

import json

import psycopg
import pytest
from helpers import Cli, sql_rows
from test_schema import REFERENCES

from macroinfra.timescale.spec import BY_TABLE, METADATA_TABLES

UNAVAILABLE = "unavailable: Apache edition"


def load(settings, months: int) -> None:
    """Rows in market_data over `months` months (one chunk each) and ten years of macro_series."""
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        conn.execute(REFERENCES)
        conn.execute(
            "INSERT INTO market_data (timestamp, instrument_id, frequency, close) "
            "SELECT timestamptz '2000-01-15' + make_interval(days => 30 * g), 1, 'daily', g "
            "FROM generate_series(0, %s - 1) g",
            (months,),
        )
        conn.execute(
            "INSERT INTO macro_series (observation_date, series_id, value, release_time) "
            "SELECT date '2010-06-01' + 360 * g, 1, g, now() FROM generate_series(0, 9) g"
        )
        conn.execute("ANALYZE")


def show(settings, *args: str):
    return Cli(settings)("schema", "show", *args)


def test_json_matches_timescaledbs_own_catalog(migrated):
    load(migrated, 24)
    result = show(migrated, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    tables = {t["name"]: t for t in doc["tables"]}
    assert set(BY_TABLE) | set(METADATA_TABLES) <= set(tables)
    assert doc["server"]["license"] == "apache"

    views = {
        name: (chunks, compression)
        for name, chunks, compression in sql_rows(
            migrated,
            "SELECT hypertable_name, num_chunks, compression_enabled "
            "FROM timescaledb_information.hypertables",
        )
    }
    dims = {
        name: (column, str(ctype), interval.total_seconds())
        for name, column, ctype, interval in sql_rows(
            migrated,
            "SELECT hypertable_name, column_name, column_type::text, time_interval "
            "FROM timescaledb_information.dimensions",
        )
    }
    assert set(views) == set(BY_TABLE)
    for name in BY_TABLE:
        table = tables[name]
        hyper = table["actual"]["hypertable"]
        assert table["kind"] == "hypertable"
        assert hyper["num_chunks"] == views[name][0]
        assert hyper["compression_enabled"] is views[name][1] is False
        column, ctype, seconds = dims[name]
        assert hyper["time_column"] == column
        assert {"timestamp with time zone": "timestamptz"}.get(ctype, ctype) == hyper["time_type"]
        assert hyper["chunk_interval_seconds"] == seconds
        size, rows = sql_rows(
            migrated,
            "SELECT (SELECT total_bytes FROM hypertable_detailed_size(%s)), "
            "approximate_row_count(%s)",
            (name, name),
        )[0]
        assert hyper["total_bytes"] == table["actual"]["total_bytes"] == size
        assert table["actual"]["approximate_rows"] == rows
        assert hyper["jobs"] == []
        assert table["compression"] == UNAVAILABLE
    assert tables["market_data"]["actual"]["hypertable"]["num_chunks"] == 24
    assert tables["market_data"]["actual"]["approximate_rows"] == 24
    assert tables["macro_series"]["actual"]["hypertable"]["num_chunks"] == 10

    indexes = sql_rows(
        migrated,
        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
        "AND tablename = 'market_data' AND indexdef LIKE 'CREATE UNIQUE%%'",
    )
    listed = tables["market_data"]["actual"]["hypertable"]["unique_indexes"]
    assert sorted(i["name"] for i in listed) == sorted(i for _, i in indexes)

    plain = tables["instruments"]
    assert plain["kind"] == "table" and plain["actual"]["hypertable"] is None
    (size,) = sql_rows(migrated, "SELECT pg_total_relation_size('instruments')")[0]
    assert plain["actual"]["total_bytes"] == size and plain["actual"]["approximate_rows"] == 1
    assert tables["alembic_version"]["declared"] is None  # present, not part of the spec


def test_rows_of_chunks_never_analysed_are_unknown_not_zero(migrated):
    """Chunks that ANALYZE (or autovacuum) has not reached yet have no estimate: shown as
    not analysed, not as 0 rows; once analysed, the estimate."""
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute(REFERENCES)
        conn.execute(
            "INSERT INTO market_data (timestamp, instrument_id, frequency, close) "
            "SELECT timestamptz '2001-01-01' + make_interval(hours => g), 1, 'hourly', g "
            "FROM generate_series(1, 500) g"
        )
    shown = show(migrated, "market_data", "--json")
    (table,) = json.loads(shown.stdout)["tables"]
    assert table["actual"]["approximate_rows"] is None
    assert "not analysed" in show(migrated, "market_data").stdout
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("ANALYZE market_data")
    (table,) = json.loads(show(migrated, "market_data", "--json").stdout)["tables"]
    assert table["actual"]["approximate_rows"] == 500


def test_only_compression_differs_on_a_fresh_apache_database(migrated):
    doc = json.loads(show(migrated, "--json").stdout)
    aspects = sorted(
        {(d["aspect"], d["unavailable"]) for t in doc["tables"] for d in t["differences"]}
    )
    assert aspects == [("compression", True), ("compression_policy", True)]
    assert doc["difference_count"] == 2 * len(BY_TABLE)


def test_declared_and_actual_side_by_side_with_differences_marked(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("SELECT set_chunk_time_interval('curves', INTERVAL '14 days')")
        conn.execute("DROP TABLE vol_surfaces")
    doc = json.loads(show(migrated, "--json").stdout)
    tables = {t["name"]: t for t in doc["tables"]}
    interval = [d for d in tables["curves"]["differences"] if d["aspect"] == "chunk_interval"]
    assert interval == [
        {
            "table": "curves",
            "aspect": "chunk_interval",
            "declared": "3 months (90 days)",
            "actual": "14 days",
            "message": "curves: chunk interval 14 days, declared 3 months (90 days)",
            "unavailable": False,
        }
    ]
    missing = tables["vol_surfaces"]
    assert missing["actual"] is None and missing["matches"] is False
    assert [d["aspect"] for d in missing["differences"]] == ["table"]

    human = show(migrated, "curves")
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    row = next(line for line in lines if "chunk interval" in line)
    assert row.startswith("≠") and "3 months (90 days)" in row and "14 days" in row
    time_row = next(line for line in lines if "time column" in line)
    assert not time_row.startswith("≠") and "curve_date (date)" in time_row
    for label in ("segment by", "order by", "compression policy", "before / after compression"):
        row = next(line for line in lines if label in line)
        assert UNAVAILABLE in row, row
    assert "catalog queries" in human.stderr


def test_one_table_and_unknown_tables(migrated):
    doc = json.loads(show(migrated, "market_data", "--json").stdout)
    assert [t["name"] for t in doc["tables"]] == ["market_data"]

    hostile = "market_data'; DROP TABLE signals; --"
    result = show(migrated, hostile)
    assert result.exit_code == 1
    assert f"no table named {hostile!r}" in result.stderr
    known = result.stderr.split("known tables: ")[1]
    assert "market_data" in known and "series_metadata" in known and "alembic_version" in known
    assert sql_rows(migrated, "SELECT to_regclass('signals') IS NOT NULL") == [(True,)]


def test_a_declared_table_that_is_missing_is_shown_not_unknown(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("DROP TABLE signals")
    result = show(migrated, "signals", "--json")
    assert result.exit_code == 0
    (table,) = json.loads(result.stdout)["tables"]
    assert table["actual"] is None and table["declared"]["kind"] == "hypertable"


@pytest.mark.parametrize("months", [1, 60])
def test_the_number_of_queries_does_not_grow_with_chunks(migrated, months):
    from sqlalchemy import event

    from macroinfra.db import Database
    from macroinfra.timescale.contract import schema_report

    load(migrated, months)
    db = Database(migrated)
    sent: list[str] = []
    listener = lambda *args: sent.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        report = schema_report(db)
    finally:
        db.dispose()
    assert report.queries == len(sent) == 6
    hyper = next(t for t in report.tables if t.name == "market_data").actual.hypertable
    assert hyper.num_chunks == months


def test_without_the_extension_plain_tables_are_listed(database):
    with psycopg.connect(database.libpq_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE instruments (id int)")
    result = show(database, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["server"]["extension_version"] is None
    tables = {t["name"]: t for t in doc["tables"]}
    assert tables["instruments"]["matches"] is True
    assert tables["market_data"]["actual"] is None
    assert doc["queries"] == 2  # server and tables: no TimescaleDB views to read


def test_human_output_for_a_community_server(capsys):
    """The Community edition cannot run here: its rendering is checked on an inspection built
    as such a server reports it (compression on, a policy job, compressed chunks)."""
    from dataclasses import replace

    from helpers import community_inspection

    from macroinfra.cli.schema import _human
    from macroinfra.timescale.contract import report_from

    inspection = community_inspection()
    market = inspection.table("market_data")
    job = replace(market.hypertable.jobs[0], last_run_status="Failed", total_failures=2)
    inspection.tables[inspection.tables.index(market)] = replace(
        market, hypertable=replace(market.hypertable, jobs=(job,))
    )
    _human(report_from(inspection))
    out = capsys.readouterr().out
    assert UNAVAILABLE not in out
    assert "TimescaleDB 2.19.3 (Community edition)" in out
    lines = out.splitlines()
    policy = next(line for line in lines if "compression policy" in line and "30 days" in line)
    assert "after 30 days (job " in policy and not policy.startswith("≠")
    failing = next(line for line in lines if f"job {job.job_id} " in line)
    assert failing.startswith("≠") and "last run Failed, 2 failures" in failing
    sizes = next(line for line in lines if "before / after compression" in line)
    assert "1.0 MB / 128.0 kB (8x)" in sizes
    assert "7 differences" not in out and "1 difference from the declared spec" in out
