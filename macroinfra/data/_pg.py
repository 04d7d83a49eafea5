"""The psycopg connection under whatever the caller handed in, and database errors as
one-line OperationErrors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from macroinfra.errors import OperationError

if TYPE_CHECKING:
    import psycopg

_COPY_CONTEXT = re.compile(r"^COPY \S+, line (?P<row>\d+)(?:, column (?P<column>[^:]+))?", re.M)

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


def database_error(exc: Exception, doing: str) -> OperationError:
    """A psycopg error as one line saying what failed, with the server's detail as the hint."""
    import psycopg.errors as pe

    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag else None) or str(exc).strip().splitlines()[0]
    if isinstance(exc, pe.UndefinedTable):
        return OperationError(
            f"{doing} failed: {primary}",
            hint="the schema is missing: run `macroinfra migrate`",
        )
    if isinstance(exc, pe.OperationalError) and not isinstance(exc, pe.QueryCanceled):
        return OperationError(f"{doing} failed, the connection to PostgreSQL broke: {primary}")
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
