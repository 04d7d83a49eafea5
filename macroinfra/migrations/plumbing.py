"""Connections for migrations: the advisory lock that keeps two migrators from racing, and
Alembic's failures turned into one-line errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from macroinfra.errors import MacroinfraError, MigrationError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from macroinfra.db import Database

# pg_advisory_lock key: the bytes of "macroinf" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"macroinf", "big", signed=True)


@contextmanager
def connect(db: Database) -> Iterator[Connection]:
    from macroinfra.db import connect

    with connect(db.engine) as conn:
        yield conn


@contextmanager
def locked(conn: Connection, on_wait: Callable[[], None] | None) -> Iterator[bool]:
    from sqlalchemy import text

    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
    waited = not got
    if waited:
        if on_wait is not None:
            on_wait()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
    conn.commit()
    try:
        yield waited
    except BaseException:
        _unlock(conn, failing=True)
        raise
    _unlock(conn, failing=False)


def _unlock(conn: Connection, *, failing: bool) -> None:
    """Release the advisory lock on the session that holds it, and never on another: a session
    the server ended took its lock with it, and a failed release ends the session so the lock
    goes with it too. When the block failed, its error is the one that counts: a failure to
    release is not raised over it."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from macroinfra.db import discard_if_dead

    discard_if_dead(conn)
    if conn.invalidated or conn.closed:
        return  # never reconnect (SQLAlchemy would): the new session would hold no lock
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        conn.commit()
    except DBAPIError:
        conn.invalidate()
        if not failing:
            raise


def run(action: Callable[[], Any]) -> Any:
    """Run an Alembic command, turning its failures into one-line MigrationErrors."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from macroinfra.errors import connection_lost, first_line

    try:
        return action()
    except CommandError as exc:
        raise MigrationError(f"migration failed: {first_line(exc)}") from None
    except DBAPIError as exc:
        first = first_line(exc.orig) if exc.orig else type(exc).__name__
        if exc.connection_invalidated or connection_lost(exc):
            raise MigrationError(
                f"migration interrupted, lost the connection to PostgreSQL: {first}",
                hint="each migration is one transaction, so none is half applied: check the "
                "server (`macroinfra doctor`), then run `macroinfra migrate status`",
            ) from None
        raise MigrationError(
            f"migration failed, the database is unchanged: {first}",
            hint="fix the cause above and run `macroinfra migrate` again",
        ) from None
    except (MacroinfraError, OSError):
        raise
    except Exception as exc:  # a revision's own code failed (a team's revision, say)
        where = _revision_file(exc)
        raise MigrationError(
            f"migration failed, the database is unchanged: {type(exc).__name__}: "
            f"{first_line(exc)}" + (f" (in {where})" if where else ""),
            hint="fix the revision file and run `macroinfra migrate` again",
        ) from None


def _revision_file(exc: BaseException) -> str | None:
    """The last file of a migration script in the traceback (where the failure is)."""
    import traceback

    files = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    scripts = [f for f in files if "site-packages" not in f and "/macroinfra/" not in f]
    return f"{scripts[-1]}" if scripts else None
