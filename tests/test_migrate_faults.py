"""A server that fails under a running `migrate`: one error line, exit 1, no traceback, and the
database as it was (each migration is one transaction).

The failure is real: the migrating backend is terminated by the server (pg_terminate_backend,
from another session) while it waits on a lock the test holds, so the test knows where it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
from helpers import settings_env, sql_rows

from macroinfra.migrations import head_revision

DEADLINE_S = 60


def cli_process(settings, *args: str) -> subprocess.Popen[str]:
    """The real `macroinfra` in a process of its own (its stderr is what a person sees)."""
    return subprocess.Popen(
        [sys.executable, "-c", "from macroinfra.cli import main; main()", *args],
        env={**os.environ, **settings_env(settings), "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def terminate_when_blocked(
    settings, holder: psycopg.Connection, proc: subprocess.Popen[str], *, refuse: bool = False
) -> None:
    """Wait until a session of `proc` waits on a lock `holder` holds, then have the server
    terminate that session. With `refuse`, the database first stops accepting sessions (as
    a server that crashed does while it recovers) until `proc` has ended."""
    from psycopg import sql

    database = sql.Identifier(settings.postgres_db)
    admin_db = settings.model_copy(update={"postgres_db": "postgres"})
    deadline = time.monotonic() + DEADLINE_S
    with psycopg.connect(admin_db.libpq_url, autocommit=True) as admin:
        while True:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s"
                " AND backend_type = 'client backend' AND wait_event_type = 'Lock'",
                (settings.postgres_db, holder.info.backend_pid),
            ).fetchone()
            if row:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command should wait on the held lock"
        if refuse:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
        admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        if refuse:
            proc.wait(timeout=DEADLINE_S)
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))


def assert_one_error_line(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in out + err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


def public_tables(settings) -> set[str]:
    rows = sql_rows(settings, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r[0] for r in rows}


def test_a_backend_killed_during_upgrade_is_one_line_and_changes_nothing(database):
    # An uncommitted table of the migration's name: its CREATE TABLE waits on this session.
    with psycopg.connect(database.libpq_url) as holder:
        holder.execute("CREATE TABLE curves (x int)")
        proc = cli_process(database, "migrate")
        terminate_when_blocked(database, holder, proc, refuse=True)
        holder.rollback()
    line = assert_one_error_line(proc)
    # The error that happened, not a later one about the database refusing a new session.
    assert "terminating connection due to administrator command" in line
    assert public_tables(database) == set()  # not even alembic_version
    assert (
        sql_rows(database, "SELECT extname FROM pg_extension WHERE extname = 'timescaledb'") == []
    )


def test_a_backend_killed_during_downgrade_is_one_line_and_changes_nothing(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("INSERT INTO data_sources (id, name) VALUES (1, 'kept')")
    before = public_tables(migrated)
    # Reading market_data holds a lock its DROP TABLE waits for, after the tables that refer
    # to it were dropped in the same (then rolled back) transaction.
    with psycopg.connect(migrated.libpq_url) as holder:
        holder.execute("SELECT 1 FROM market_data LIMIT 1")
        proc = cli_process(migrated, "migrate", "down", "--to", "base", "--yes")
        terminate_when_blocked(migrated, holder, proc, refuse=True)
        holder.rollback()
    line = assert_one_error_line(proc)
    assert "terminating connection due to administrator command" in line
    assert public_tables(migrated) == before
    assert sql_rows(migrated, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert sql_rows(migrated, "SELECT name FROM data_sources") == [("kept",)]
