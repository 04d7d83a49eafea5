"""`db dump`, `db restore` and `db shell` against the real PostgreSQL + TimescaleDB.

One demo database (migrated, `seed demo --years 1 --instruments 3`) is dumped once for the
module; each restore goes into an empty database of its own. A restored database must equal
its source in every table's rows and content, in TimescaleDB's hypertables, dimensions,
chunks, compression settings and jobs, in an as-of read, and in `doctor --strict`'s verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from helpers import Cli, error_lines, scratch_database, settings_env, sql_rows
from psycopg import sql

from macroinfra import runtime
from macroinfra.backup import clients
from macroinfra.data import asof
from macroinfra.errors import ServiceUnavailable
from macroinfra.settings import Settings

END = "2025-06-30"
MAIN = "from macroinfra.cli import main; main()"
INSTALLED = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
AVAILABLE = "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"

TIMESCALE_SQL = {
    "hypertables": """SELECT hypertable_schema, hypertable_name, num_dimensions, num_chunks,
        compression_enabled FROM timescaledb_information.hypertables ORDER BY 1, 2""",
    "dimensions": """SELECT hypertable_name, dimension_number, column_name, column_type::text,
        dimension_type, time_interval, integer_interval, num_partitions
        FROM timescaledb_information.dimensions ORDER BY 1, 2""",
    "chunks": """SELECT hypertable_name, range_start, range_end, is_compressed
        FROM timescaledb_information.chunks ORDER BY 1, 2""",
    "compression": """SELECT hypertable_name, attname, segmentby_column_index,
        orderby_column_index, orderby_asc, orderby_nullsfirst
        FROM timescaledb_information.compression_settings ORDER BY 1, 2""",
    "jobs": """SELECT application_name, schedule_interval, max_runtime, max_retries,
        retry_period, proc_schema, proc_name, scheduled, config::text, hypertable_name
        FROM timescaledb_information.jobs ORDER BY 1, 10""",
}


def public_tables(settings: Settings) -> list[str]:
    rows = sql_rows(
        settings,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    return [r[0] for r in rows]


def fingerprint(settings: Settings) -> dict[str, Any]:
    """Every table's row count and content checksum, and TimescaleDB's view of the schema."""
    found: dict[str, Any] = {}
    with psycopg.connect(settings.libpq_url) as conn:
        for table in public_tables(settings):
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t"
            ).format(sql.Identifier(table))
            found[table] = conn.execute(query).fetchone()
        for name, query in TIMESCALE_SQL.items():
            found[name] = conn.execute(query).fetchall()
    return found


def empty_state(settings: Settings) -> tuple[list[str], list[Any]]:
    """What an untouched empty database has: no table, and its extensions."""
    extensions = sql_rows(settings, "SELECT extname, extversion FROM pg_extension ORDER BY 1")
    return public_tables(settings), extensions


def strict_verdict(settings: Settings) -> tuple[int, dict[str, Any]]:
    result = Cli(settings)("doctor", "timescaledb", "--strict", "--runtime", "external", "--json")
    checks = json.loads(result.stdout)["checks"]
    return result.exit_code, {
        c["name"]: (c["status"], c.get("problems")) for c in checks if c["group"] == "schema"
    }


def failure(result: Any) -> str:
    """The error line of a failed command (progress lines may come before it)."""
    return next(line for line in result.stderr.splitlines() if line.startswith("error: "))


def run_cli(settings: Settings, *args: str, **options: Any) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, without a terminal."""
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        env={**os.environ, **settings_env(settings)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        **options,
    )


@pytest.fixture(scope="module")
def source(stack_settings: Settings) -> Iterator[Settings]:
    """A database of the module's own: migrated, and the demo data seeded through the CLI."""
    with scratch_database(stack_settings, "backup") as settings:
        cli = Cli(settings)
        assert cli("migrate").exit_code == 0
        seeded = cli("seed", "demo", "--years", "1", "--instruments", "3", "--end", END)
        assert seeded.exit_code == 0, seeded.output
        yield settings


@pytest.fixture(scope="module")
def dumped(source: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The source dumped once through the CLI: the file and the --json document."""
    file = tmp_path_factory.mktemp("dump") / "demo.dump"
    result = Cli(source)("db", "dump", str(file), "--json")
    assert result.exit_code == 0, result.output
    return file, json.loads(result.stdout)


def copy_dump(dumped: tuple[Path, dict], folder: Path) -> Path:
    file = folder / "copy.dump"
    shutil.copy(dumped[0], file)
    shutil.copy(f"{dumped[0]}.meta.json", f"{file}.meta.json")
    return file


# -- dump ----------------------------------------------------------------------------------------


def test_dump_reports_the_file_its_size_tables_and_rows(source, dumped):
    file, doc = dumped
    assert doc["file"] == str(file) and doc["size_bytes"] == file.stat().st_size > 0
    assert doc["seconds"] > 0
    counts = {t["name"]: t["rows"] for t in doc["tables"]}
    assert counts == {t: fingerprint(source)[t][0] for t in public_tables(source)}
    assert counts["market_data"] > 0 and counts["macro_series"] > 0
    meta = json.loads(Path(f"{file}.meta.json").read_text())
    (installed,) = sql_rows(source, INSTALLED)[0]
    (revision,) = sql_rows(source, "SELECT version_num FROM alembic_version")[0]
    assert (meta["timescaledb_version"], meta["revision"]) == (installed, revision)
    assert meta["size_bytes"] == doc["size_bytes"]
    assert sorted(p.name for p in file.parent.iterdir()) == ["demo.dump", "demo.dump.meta.json"]


def test_a_dump_into_a_folder_under_a_regular_file_leaves_nothing(source, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = Cli(source)("db", "dump", str(tmp_path / "afile" / "sub" / "x.dump"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot write ")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_a_dump_of_a_database_that_is_not_utf8_names_its_tables(sql_ascii, tmp_path):
    """psycopg hands back bytes for a SQL_ASCII database's text unless the client asks for
    UTF8: the tables' names must still come back as names."""
    with psycopg.connect(sql_ascii.libpq_url) as conn:
        conn.execute("CREATE TABLE prices (v int); INSERT INTO prices VALUES (1), (2)")
    result = Cli(sql_ascii)("db", "dump", str(tmp_path / "ascii.dump"), "--json")
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)["tables"]
    assert tables == [{"schema": "public", "name": "prices", "rows": 2}]


def fake_pg_dump(folder: Path, settings: Settings, body: str) -> Settings:
    """Settings whose pg_dump (MACROINFRA_PG_BINDIR) writes part of a dump, then runs `body`."""
    (major,) = sql_rows(settings, "SELECT current_setting('server_version_num')::int / 10000")[0]
    program = folder / "pg_dump"
    program.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) {major}.0"; exit 0; fi\n'
        "printf 'PGDMP and then some'\n"
        f"{body}\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return settings.model_copy(update={"pg_bindir": folder})


def test_a_failed_dump_leaves_nothing(source, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    settings = fake_pg_dump(bindir, source, "echo 'pg_dump: error: out of disk' >&2; exit 1")
    out = tmp_path / "out"
    out.mkdir()
    result = Cli(settings)("db", "dump", str(out / "x.dump"))
    assert result.exit_code == 1
    assert failure(result) == "error: pg_dump failed: out of disk"
    assert list(out.iterdir()) == []


def test_a_killed_dump_never_leaves_a_file_that_looks_complete(source, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    settings = fake_pg_dump(bindir, source, "kill -9 $PPID")  # the dump's own process
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(settings, "db", "dump", str(out / "x.dump"))
    assert result.returncode == -9
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".x.dump.") and left[0].endswith(".partial")


# -- restore -------------------------------------------------------------------------------------


def test_round_trip_restores_the_same_data_schema_reads_and_verdict(
    source, dumped, database, tmp_path
):
    file, _ = dumped
    result = Cli(database)("db", "restore", str(file), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["replaced"] == [] and doc["seconds"] > 0
    assert doc["size_bytes"] == file.stat().st_size

    before, after = fingerprint(source), fingerprint(database)
    assert after == before
    assert {t["name"]: t["rows"] for t in doc["tables"]} == {
        t: before[t][0] for t in public_tables(source)
    }
    assert len(before["hypertables"]) == 7 and len(before["chunks"]) > 7
    assert all(before[t][0] > 0 for t in ("market_data", "macro_series", "curves", "signals"))

    # as of an instant between two releases of a revised series
    with psycopg.connect(source.libpq_url) as a, psycopg.connect(database.libpq_url) as b:
        series_id, at = a.execute(
            "SELECT series_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY release_time) "
            "FROM macro_series GROUP BY series_id HAVING max(revision_number) > 0 "
            "ORDER BY series_id LIMIT 1"
        ).fetchone()
        seen = asof.as_of(a, series_id, at)
        assert seen.observations and seen.at.tzinfo is not None
        assert asof.as_of(b, series_id, at).observations == seen.observations

    assert strict_verdict(database) == strict_verdict(source)
    # the restore mode is over: TimescaleDB's restoring flag is off again
    assert sql_rows(database, "SHOW timescaledb.restoring") == [("off",)]

    # and the restored database dumps again to the same rows
    again = Cli(database)("db", "dump", str(tmp_path / "again.dump"), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["tables"] == doc["tables"]


def test_restore_refuses_a_database_with_tables_unless_yes(source, dumped, migrated):
    file, _ = dumped
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA scratch")
        conn.execute("CREATE TABLE scratch.notes AS SELECT generate_series(1, 3) AS n")
    before = fingerprint(migrated)

    refused = Cli(migrated)("db", "restore", str(file))
    assert refused.exit_code == 2
    assert error_lines(refused.stderr) == [
        f"error: refusing to replace the 12 tables of database {migrated.postgres_db!r} "
        "without confirmation",
        "hint: pass --yes to confirm",
    ]
    assert fingerprint(migrated) == before

    done = Cli(migrated)("db", "restore", str(file), "--yes", "--json")
    assert done.exit_code == 0, done.output
    replaced = {(t["schema"], t["name"]): t["rows"] for t in json.loads(done.stdout)["replaced"]}
    assert replaced[("scratch", "notes")] == 3 and replaced[("public", "alembic_version")] == 1
    assert len(replaced) == 12
    assert sql_rows(migrated, "SELECT to_regnamespace('scratch')") == [(None,)]
    assert fingerprint(migrated) == fingerprint(source)


def test_a_file_that_is_not_a_dump_is_refused_untouched(dumped, database, tmp_path):
    untouched = empty_state(database)
    text = tmp_path / "notes.sql"
    text.write_text("CREATE TABLE t (x int);\n")
    shutil.copy(f"{dumped[0]}.meta.json", f"{text}.meta.json")  # a record does not make a dump
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(4096))
    for file in (text, noise):
        result = Cli(database)("db", "restore", str(file), "--yes")
        assert result.exit_code == 2, result.output
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"error: {file} is not a dump pg_restore can read: "), first
    assert empty_state(database) == untouched


def test_a_missing_or_unreadable_file_is_refused(database, tmp_path):
    for file in (tmp_path / "missing.dump", tmp_path):
        result = Cli(database)("db", "restore", str(file))
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: cannot read {file}: ")


def test_a_truncated_dump_is_refused_untouched(dumped, database, tmp_path):
    untouched = empty_state(database)
    file = copy_dump(dumped, tmp_path)
    whole = file.read_bytes()
    file.write_bytes(whole[: len(whole) // 2])
    result = Cli(database)("db", "restore", str(file))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {file} is truncated or changed: it has {len(whole) // 2:,} bytes, "
        f"the dump wrote {len(whole):,}"
    )
    # cut inside its table of contents, it is not a dump any more
    file.write_bytes(whole[:200])
    result = Cli(database)("db", "restore", str(file))
    assert result.exit_code == 2 and "is not a dump pg_restore can read" in result.stderr
    # the same size but other bytes: the recorded checksum tells
    file.write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))
    result = Cli(database)("db", "restore", str(file))
    assert result.exit_code == 1 and " is damaged or changed" in result.stderr
    assert empty_state(database) == untouched


def test_a_dump_without_its_record_is_refused(dumped, database, tmp_path):
    file = tmp_path / "alone.dump"
    shutil.copy(dumped[0], file)
    result = Cli(database)("db", "restore", str(file))
    assert result.exit_code == 2
    assert "has no alone.dump.meta.json beside it" in result.stderr
    assert public_tables(database) == []


def test_another_timescaledb_version_is_refused_with_the_fix(dumped, database, tmp_path):
    untouched = empty_state(database)
    file = copy_dump(dumped, tmp_path)
    record = Path(f"{file}.meta.json")
    meta = json.loads(record.read_text())
    (available,) = sql_rows(database, AVAILABLE)[0]
    meta["timescaledb_version"] = "2.0.1"
    record.write_text(json.dumps(meta))
    result = Cli(database)("db", "restore", str(file), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["error"] == (
        f"the dump was made with TimescaleDB 2.0.1; database {database.postgres_db!r} "
        f"has {available}"
    )
    assert "install TimescaleDB 2.0.1" in doc["hint"]
    assert "ALTER EXTENSION timescaledb UPDATE" in doc["hint"]
    # a dump of a newer PostgreSQL: named before pg_restore tries to read it
    (major,) = sql_rows(database, "SELECT current_setting('server_version_num')::int / 10000")[0]
    meta["server_major"] = major + 1
    record.write_text(json.dumps(meta))
    result = Cli(database)("db", "restore", str(file))
    assert (result.exit_code, failure(result)) == (
        2,
        f"error: the dump is of PostgreSQL {major + 1}; the server runs {major}",
    )
    assert empty_state(database) == untouched


# -- shell ---------------------------------------------------------------------------------------


def test_shell_runs_psql_without_a_terminal(database):
    result = run_cli(database, "db", "shell", "--", "-c", "select 1")
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[:3] == ["?column?", "----------", "1"]


def test_shell_passes_psql_exit_code_back(database):
    result = run_cli(database, "db", "shell", "--", "-c", "select 1/0")
    assert result.returncode == 1
    assert "division by zero" in result.stderr


def _cmdlines() -> dict[int, bytes]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                pass
    return found


def test_the_password_is_in_psql_environment_never_on_a_command_line(database):
    password = database.postgres_password.get_secret_value().encode()
    with psycopg.connect(database.libpq_url, autocommit=True) as listener:
        listener.execute("LISTEN shell_started")
        psql_args = ["-c", "NOTIFY shell_started", "-c", "SELECT pg_sleep(600)"]
        shell = subprocess.Popen(
            [sys.executable, "-c", MAIN, "db", "shell", "--", *psql_args],
            env={**os.environ, **settings_env(database)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            notice = next(listener.notifies(timeout=60))  # psql is connected and running
            cmdlines = _cmdlines()
            psql = [pid for pid, line in cmdlines.items() if b"pg_sleep(600)" in line]
            assert psql, "psql is not running"
            for pid, line in cmdlines.items():
                assert password not in line, (pid, line)
            environ = Path(f"/proc/{psql[-1]}/environ").read_bytes().split(b"\0")
            assert b"PGPASSWORD=" + password in environ
            listener.execute("SELECT pg_terminate_backend(%s)", (notice.pid,))
            assert shell.wait(timeout=60) == 2  # psql's code for a connection gone bad
        finally:
            if shell.poll() is None:
                shell.kill()
                shell.wait()


# -- where the client programs run ---------------------------------------------------------------

COMPOSE = ["docker", "compose", "--file", "c.yml", "--project-name", "macroinfra"]


class ComposeDouble:
    """The compose runtime as find_client sees it: its name and its client's command."""

    name = "compose"

    def client(self, profiles: list[str]) -> Any:
        return SimpleNamespace(client_config=SimpleNamespace(docker_compose_cmd=COMPOSE))


@pytest.fixture
def no_host_programs(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(clients, "host_program", lambda *args: None)
    return monkeypatch


def test_without_host_programs_compose_runs_them_in_its_container(stack_settings, no_host_programs):
    no_host_programs.setattr(
        runtime, "select_runtime", lambda settings: SimpleNamespace(runtime=ComposeDouble())
    )
    password = stack_settings.postgres_password.get_secret_value()
    client = clients.find_client(stack_settings, "pg_dump", 17)
    assert client.where == "container"
    assert client.command("--format=custom") == [
        *COMPOSE,
        "exec",
        "-T",
        *("--env", "PGHOST=127.0.0.1", "--env", "PGPORT=5432"),
        *("--env", f"PGUSER={stack_settings.postgres_user}"),
        *("--env", f"PGDATABASE={stack_settings.postgres_db}"),
        *("--env", "PGAPPNAME=macroinfra", "--env", "PGCONNECT_TIMEOUT=10"),
        *("--env", "PGPASSWORD"),  # no value: Compose takes it from its own environment
        "timescaledb",
        "pg_dump",
        "--format=custom",
    ]
    assert client.env["PGPASSWORD"] == password
    shell = clients.find_client(stack_settings, "psql", None, interactive=True)
    assert "-T" not in shell.argv  # a terminal for an interactive psql


def test_without_host_programs_or_compose_the_fix_is_named(stack_settings, no_host_programs):
    with pytest.raises(ServiceUnavailable) as raised:
        clients.find_client(stack_settings, "pg_restore", 17)  # the local runtime
    assert raised.value.message == "no pg_restore for PostgreSQL 17 on this machine"
    assert raised.value.hint.startswith("install postgresql-client-17")
