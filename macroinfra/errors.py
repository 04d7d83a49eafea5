"""The one exception family. The CLI maps it to a message and an exit code in one place."""

from __future__ import annotations


class MacroinfraError(Exception):
    """An expected failure: one line saying what is wrong, and a hint saying what to do."""

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = problems or []  # one line each, printed under the message

    def __str__(self) -> str:
        return self.message


class ConfigError(MacroinfraError):
    """Bad configuration or usage: exit code 2."""

    exit_code = 2


class UsageError(ConfigError):
    """A command was called with arguments it cannot act on: exit code 2."""


class OperationError(MacroinfraError):
    """An operation was attempted and failed: exit code 1."""


class ServiceUnavailable(OperationError):
    """A service did not answer, refused the credentials, or is not installed."""


class MigrationError(OperationError):
    """A migration could not be applied or the database is at an unknown revision."""


class NotFound(OperationError):
    """A named thing (table, service) does not exist."""


class ServiceUnhealthy(ServiceUnavailable):
    """A started service did not become ready: `problems` holds its last healthcheck output and
    log lines."""


class ConcurrencyConflict(OperationError):
    """The server aborted a transaction over a concurrent one (SQLSTATE 40001, a serialization
    failure, or 40P01, a deadlock): nothing of it was applied, and running it again may
    succeed."""


# SQLSTATEs that say what happened, so errors are classified by code, never by message text.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
# The server ended the session: admin shutdown (pg_terminate_backend), crash shutdown, cannot
# connect now (starting, recovering), database dropped, idle session timeout. Class 08 is a
# connection exception.
SESSION_ENDED_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05"})


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error (psycopg's, or the one a SQLAlchemy error wraps)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig if orig is not None else exc, "sqlstate", None) or None


def connection_lost(exc: BaseException) -> bool:
    """Whether a driver error means the session is gone: by its SQLSTATE when the server sent
    one; an OperationalError the client raised itself (no SQLSTATE) is about the connection."""
    import sys

    state = sqlstate(exc)
    if state is not None:
        return state.startswith("08") or state in SESSION_ENDED_SQLSTATES
    exc = getattr(exc, "orig", None) or exc
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def from_driver_error(exc: BaseException) -> MacroinfraError | None:
    """A database or cache driver's error that escaped the library, as one line of the family
    (None: not a driver error, a bug to show as it is). The one boundary for what the
    library's own handlers did not expect: a crashed server, a catalog query that failed."""
    import sys

    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        if isinstance(exc, DBAPIError) and exc.orig is not None:
            exc = exc.orig
        elif isinstance(exc, SQLAlchemyError):
            return OperationError(f"database error: {first_line(exc)}")
    if "psycopg" in sys.modules:
        import psycopg

        if isinstance(exc, psycopg.Error) and sqlstate(exc) in CONFLICT_SQLSTATES:
            return ConcurrencyConflict(
                f"the server aborted the transaction over a concurrent one: {first_line(exc)}",
                hint="nothing of it was applied: run the command again",
            )
        if isinstance(exc, psycopg.OperationalError) and connection_lost(exc):
            return ServiceUnavailable(
                f"lost the connection to PostgreSQL: {first_line(exc)}",
                hint="check the server is running (`macroinfra ps`, `macroinfra doctor`)",
            )
        if isinstance(exc, psycopg.Error):
            return OperationError(f"database error: {first_line(exc)}")
    if "redis" in sys.modules:
        import redis

        if isinstance(exc, redis.RedisError):
            return ServiceUnavailable(f"Redis error: {first_line(exc)}")
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
