"""Loads and `seed demo` when the server fails them: a session the server ends, a transaction it
aborts over a concurrent one. Errors are classified by SQLSTATE; a conflict is retried, a
bounded number of times, where the load owns its transaction; nothing is ever half written."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from helpers import assert_one_error_line, cli_process, sql_rows, terminate_when_blocked

from macroinfra import pg as _pg
from macroinfra.data.demo import seed_demo
from macroinfra.data.loader import load
from macroinfra.db import Database
from macroinfra.errors import ConcurrencyConflict, ServiceUnavailable, from_driver_error
from macroinfra.timescale.spec import ALL_TABLES

SEED = ("seed", "demo", "--years", "1", "--instruments", "2", "--end", "2024-06-30")


def counts(settings) -> dict[str, int]:
    return {t: sql_rows(settings, f"SELECT count(*) FROM {t}")[0][0] for t in ALL_TABLES}


def abort_inserts(settings, table: str, times: int) -> None:
    """The next `times` INSERT statements into `table` fail as the server fails a transaction
    that conflicts with a concurrent one (SQLSTATE 40001, what TimescaleDB raises when it
    aborts a recompression over concurrent DML); the ones after succeed."""
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE aborted_inserts")
        conn.execute(
            "CREATE FUNCTION abort_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF nextval('aborted_inserts') <= {times} THEN"
            " RAISE EXCEPTION 'could not serialize access due to concurrent update'"
            " USING ERRCODE = 'serialization_failure'; END IF; RETURN NULL; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER abort_insert BEFORE INSERT ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION abort_insert()"
        )


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(_pg, "BACKOFF_S", 0.0, raising=False)


def test_a_backend_killed_during_seed_is_one_line_and_loads_nothing(migrated):
    # market_data is loaded first; the load of macro_series waits on this lock.
    with psycopg.connect(migrated.libpq_url) as holder:
        holder.execute("LOCK TABLE macro_series IN ACCESS EXCLUSIVE MODE")
        proc = cli_process(migrated, *SEED)
        terminate_when_blocked(migrated, holder, proc)
        holder.rollback()
    line = assert_one_error_line(proc)
    assert line == (
        "error: loading macro_series failed: lost the connection to PostgreSQL: "
        "terminating connection due to administrator command"
    )
    assert set(counts(migrated).values()) == {0}  # one transaction: market_data went too


def test_a_conflict_is_retried_and_the_seed_completes(migrated, no_backoff):
    abort_inserts(migrated, "data_sources", times=2)
    messages: list[str] = []
    db = Database(migrated)
    try:
        result = seed_demo(
            db, years=1, instruments=2, end=date(2024, 6, 30), progress=messages.append
        )
    finally:
        db.dispose()
    retries = [m for m in messages if "trying again" in m]
    assert len(retries) == 2 and retries[-1].endswith("trying again (3 of 3)")
    assert "SQLSTATE 40001" in retries[0] and "connection" not in retries[0]
    assert result.inserted == result.offered == sum(counts(migrated).values())


def test_a_conflict_that_persists_is_one_line_naming_it(migrated, no_backoff):
    abort_inserts(migrated, "data_sources", times=100)
    proc = cli_process(migrated, *SEED)
    line = assert_one_error_line(proc)
    assert line == (
        "error: loading data_sources failed: the server aborted it over a concurrent "
        "transaction (SQLSTATE 40001): could not serialize access due to concurrent update "
        "(tried 3 times)"
    )
    assert set(counts(migrated).values()) == {0}


def test_a_load_retries_only_a_transaction_of_its_own(migrated, no_backoff):
    abort_inserts(migrated, "data_sources", times=3)
    source = [{"name": "one"}]
    with psycopg.connect(migrated.libpq_url) as conn:
        conn.execute("SELECT 1")  # the caller's transaction: its snapshot may be the conflict
        with pytest.raises(ConcurrencyConflict, match=r"SQLSTATE 40001.*update$"):
            load(conn, "data_sources", source)
    db = Database(migrated)
    try:
        with pytest.raises(ConcurrencyConflict):  # a generator cannot be read twice
            load(db, "data_sources", (row for row in source))
        assert load(db, "data_sources", source).inserted == 1  # after the last abort
    finally:
        db.dispose()


def test_escaped_driver_errors_are_classified_by_sqlstate(migrated):
    def raised(sql: str) -> psycopg.Error:
        with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(sql)
        return caught.value

    conflict = from_driver_error(
        raised("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'deadlock_detected'; END $$")
    )
    assert isinstance(conflict, ConcurrencyConflict) and "connection" not in conflict.message
    timeout = from_driver_error(raised("SET statement_timeout = 1; SELECT pg_sleep(1)"))
    assert type(timeout).__name__ == "OperationError"
    assert timeout.message == "database error: canceling statement due to statement timeout"
    ended = from_driver_error(raised("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert isinstance(ended, ServiceUnavailable)
    assert ended.message.startswith("lost the connection to PostgreSQL: terminating connection")
