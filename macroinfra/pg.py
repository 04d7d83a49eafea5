"""The psycopg connection under whatever the caller handed in, transactions retried when the
server aborts them over a concurrent one, and database errors as one-line OperationErrors,
classified by SQLSTATE."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from macroinfra.errors import (
    CONFLICT_SQLSTATES,
    ConcurrencyConflict,
    OperationError,
    connection_lost,
    sqlstate,
)

if TYPE_CHECKING:
    import psycopg

_COPY_CONTEXT = re.compile(r"^COPY \S+, line (?P<row>\d+)(?:, column (?P<column>[^:]+))?", re.M)
# A TimescaleDB chunk, which the server names where a person thinks of the hypertable.
_CHUNK = re.compile(r"(?:_timescaledb_internal\.)?(?:compress)?_hyper_\d+_\d+_chunk")
ATTEMPTS = 3  # tries of a transaction the server aborts over a concurrent one
BACKOFF_S = 0.1  # before try n+1: n times this
LOST_HINT = (
    "a transaction is applied whole or not at all, so nothing is half written: check the "
    "server (`macroinfra doctor`), then run it again"
)
T = TypeVar("T")

# A Database (macroinfra.db), a SQLAlchemy Connection over psycopg, or a psycopg Connection.
Target = Any


@contextmanager
def driver_connection(target: Target) -> Iterator[psycopg.Connection[Any]]:
    """The psycopg connection to work on.

    A Database lends a pooled connection for the duration; a connection handed in is used as
    it is, inside whatever transaction its owner has open.
    """
    import psycopg

    if isinstance(target, psycopg.Connection):
        yield target
        return
    from macroinfra.db import Database, connect

    if isinstance(target, Database):
        with connect(target.engine) as conn:
            yield conn.connection.driver_connection
        return
    driver = getattr(getattr(target, "connection", None), "driver_connection", None)
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(
            "expected a macroinfra Database, a SQLAlchemy Connection over psycopg, "
            f"or a psycopg Connection, not {type(target).__name__}"
        )
    yield driver


def transaction(
    conn: psycopg.Connection[Any],
    work: Callable[[], T],
    doing: str,
    *,
    retry: bool = True,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """`work()` in a transaction of `conn`, run again (ATTEMPTS times in all, when `retry`)
    when the server aborts it over a concurrent transaction (SQLSTATE 40001 or 40P01, e.g.
    TimescaleDB aborting a recompression over concurrent DML). Only a transaction of its own is
    retried: a savepoint inside the caller's transaction is not, since the caller's snapshot
    may be what conflicts. Other errors pass through as they are."""
    import psycopg
    from psycopg import pq

    own = conn.info.transaction_status == pq.TransactionStatus.IDLE
    attempts = ATTEMPTS if own and retry else 1
    attempt = 1
    while True:
        try:
            with conn.transaction():
                return work()
        except (psycopg.Error, ConcurrencyConflict) as exc:
            if not _conflict(exc):
                raise
            error = exc if isinstance(exc, OperationError) else database_error(exc, doing)
            if attempt == attempts:
                if attempts > 1:
                    error.message += f" (tried {attempts} times)"
                raise error from None
        attempt += 1
        if on_retry is not None:
            on_retry(f"{error.message}; trying again ({attempt} of {attempts})")
        time.sleep(BACKOFF_S * attempt)


def _conflict(exc: BaseException) -> bool:
    return isinstance(exc, ConcurrencyConflict) or sqlstate(exc) in CONFLICT_SQLSTATES


def database_error(exc: Exception, doing: str, *, table: str | None = None) -> OperationError:
    """A psycopg error as one line saying what failed, with the server's detail as the hint.

    Classified by SQLSTATE: a session the server ended (or a connection the client lost), a
    transaction aborted over a concurrent one (ConcurrencyConflict: may be run again), a
    missing table, a missing row referred to. A chunk the server names is called `table`."""
    import psycopg.errors as pe

    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag else None) or str(exc).strip().splitlines()[0]
    if table is not None:
        primary = _CHUNK.sub(table, primary)
    if isinstance(exc, pe.UndefinedTable):
        return OperationError(
            f"{doing} failed: {primary}",
            hint="the schema is missing: run `macroinfra migrate`",
        )
    if connection_lost(exc):
        return OperationError(
            f"{doing} failed: lost the connection to PostgreSQL: {primary}", hint=LOST_HINT
        )
    if sqlstate(exc) in CONFLICT_SQLSTATES:
        return ConcurrencyConflict(
            f"{doing} failed: the server aborted it over a concurrent transaction "
            f"(SQLSTATE {sqlstate(exc)}): {primary}",
            hint="nothing of it was applied; run it again once the other writer is done",
        )
    if isinstance(exc, pe.ForeignKeyViolation) and diag and diag.message_detail:
        # The primary message names a chunk; the detail names the missing row.
        return OperationError(
            f"{doing} failed: {diag.message_detail.rstrip('.')}",
            hint="load the rows it refers to first",
        )
    context = (diag.context if diag else None) or ""
    where = _COPY_CONTEXT.search(context)
    message = f"{doing} failed: {primary}"
    if where:  # COPY counts lines from 1, one line per row
        message += f" (row {where['row']}" + (
            f", column {where['column']})" if where["column"] else ")"
        )
    return OperationError(message, hint=(diag.message_detail if diag else None) or None)
