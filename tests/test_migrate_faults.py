"""A server that fails under a running `migrate`: one error line, exit 1, no traceback, and the
database as it was (each migration is one transaction).

The failure is real: the migrating backend is terminated by the server (pg_terminate_backend,
from another session) while it waits on a lock the test holds, so the test knows where it is.
"""

from __future__ import annotations

import psycopg
from helpers import assert_one_error_line, cli_process, sql_rows, terminate_when_blocked

from macroinfra.migrations import head_revision


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
