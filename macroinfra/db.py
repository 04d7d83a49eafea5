"""SQLAlchemy engines and sessions over psycopg 3, created on first use from a Settings.

Nothing connects at import time. `Database` owns one sync and one async engine, each created on
first use; `dispose()` releases the sync engine's pool, `adispose()` (from async code) both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from macroinfra.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from sqlalchemy.orm import Session, sessionmaker

    from macroinfra.settings import Settings

CONNECT_TIMEOUT_S = 10
CLIENT_ENCODING = "UTF8"
ADDRESS_HINT = "check that POSTGRES_HOST/POSTGRES_PORT point at PostgreSQL"
START_HINT = "start it with `macroinfra up`, or set POSTGRES_HOST/POSTGRES_PORT"

# Why a connection to PostgreSQL failed, for code to branch on (the message is for people).
FailureReason = Literal["refused", "timeout", "auth", "no_database", "tls", "other"]


class Database:
    """Engines on first use. `connect_timeout` (seconds), `statement_timeout_ms` and
    `application_name` go to every connection; `pool=False` keeps no connection open between
    uses (for a short-lived caller such as a probe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        connect_timeout: int = CONNECT_TIMEOUT_S,
        statement_timeout_ms: int | None = None,
        application_name: str | None = None,
        pool: bool = True,
    ) -> None:
        self.settings = settings
        self.pool = pool
        # Text comes back as str whatever the database's encoding: with a SQL_ASCII database
        # and no client_encoding, psycopg would hand back bytes.
        self.connect_args: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "client_encoding": CLIENT_ENCODING,
        }
        if statement_timeout_ms is not None:
            self.connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
        if application_name is not None:
            self.connect_args["application_name"] = application_name

    @cached_property
    def engine(self) -> Engine:
        from sqlalchemy import create_engine

        return create_engine(
            self.settings.sync_database_url,
            connect_args=self.connect_args,
            **self._pool_options(self.settings.db_pool_size),
        )

    @cached_property
    def async_engine(self) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        return create_async_engine(
            self.settings.async_database_url,
            connect_args=self.connect_args,
            **self._pool_options(
                self.settings.db_async_pool_size, self.settings.db_async_max_overflow
            ),
        )

    def _pool_options(self, size: int, max_overflow: int | None = None) -> dict[str, Any]:
        if not self.pool:
            from sqlalchemy.pool import NullPool

            return {"poolclass": NullPool}
        options: dict[str, Any] = {"pool_size": size, "pool_pre_ping": True}
        if max_overflow is not None:
            options["max_overflow"] = max_overflow
        return options

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, autoflush=False, expire_on_commit=False)

    @cached_property
    def async_session_factory(self) -> async_sessionmaker[AsyncSession]:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        return async_sessionmaker(self.async_engine, autoflush=False, expire_on_commit=False)

    def session(self) -> AbstractContextManager[Session]:
        """A session in a transaction: committed on success, rolled back on error, closed."""
        return self.session_factory.begin()

    async def async_session(self) -> AsyncIterator[AsyncSession]:
        """Async session dependency (FastAPI style): rolls back on error, always closes."""
        async with self.async_session_factory() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    def dispose(self) -> None:
        """Release the sync engine's pool. The async engine needs an event loop to close its
        connections: release it (and this one) with `adispose()`."""
        if "engine" in self.__dict__:
            self.engine.dispose()
            del self.__dict__["engine"]
            self.__dict__.pop("session_factory", None)

    async def adispose(self) -> None:
        """Release both engines' pools."""
        self.dispose()
        if "async_engine" in self.__dict__:
            await self.async_engine.dispose()
            del self.__dict__["async_engine"]
            self.__dict__.pop("async_session_factory", None)


@contextmanager
def connect(engine: Engine) -> Iterator[Any]:
    """engine.connect(), with a failure to connect turned into one ServiceUnavailable line.

    A connection that died while in use (the server ended the session, or crashed) is
    invalidated when the block fails, so the pool discards it instead of resetting it: no
    second error about a dead connection, and the first one is the one the caller sees."""
    from sqlalchemy.exc import DBAPIError

    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise connection_error(
            exc.orig or exc,
            engine.url.host,
            engine.url.port,
            engine.url.username,
            engine.url.database,
        ) from None
    with conn:
        try:
            yield conn
        except BaseException:
            discard_if_dead(conn)
            raise


def discard_if_dead(conn: Any) -> None:
    """Invalidate a SQLAlchemy connection whose driver connection is closed or broken."""
    if conn.closed or conn.invalidated:
        return
    driver = conn.connection.dbapi_connection
    if driver is None or getattr(driver, "closed", False) or getattr(driver, "broken", False):
        conn.invalidate()


class ConnectionFailed(ServiceUnavailable):
    """PostgreSQL did not accept a connection; `reason` says why, for code to branch on."""

    def __init__(self, message: str, *, reason: FailureReason, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason: FailureReason = reason


def connection_error(
    exc: BaseException, host: str | None, port: int | None, user: str | None, database: str | None
) -> ConnectionFailed:
    """Classify a failure to connect to PostgreSQL: refused, timeout, auth, no_database, other.

    The one place that reads libpq's messages; the returned error's `reason` is what to branch
    on, its message and hint are what to show.
    """
    text = str(exc).strip()
    lower = text.lower()
    where = f"{host}:{port}"
    if "password authentication failed" in lower or "no password supplied" in lower:
        return ConnectionFailed(
            f"authentication failed: PostgreSQL at {where} rejected the credentials of user "
            f"{user!r}",
            reason="auth",
            hint="check POSTGRES_USER and POSTGRES_PASSWORD",
        )
    if "does not exist" in lower and "database" in lower:
        return ConnectionFailed(
            f"database {database!r} does not exist on PostgreSQL at {where}",
            reason="no_database",
            hint="create it (`macroinfra up` does), or set POSTGRES_DB to an existing database",
        )
    if tls := _tls_failure(lower, where):
        return tls
    if "timeout" in lower or "timed out" in lower:
        return ConnectionFailed(
            f"PostgreSQL at {where} did not answer in time",
            reason="timeout",
            hint=ADDRESS_HINT,
        )
    if "refused" in lower:
        return ConnectionFailed(
            f"PostgreSQL is not answering at {where} (connection refused)",
            reason="refused",
            hint=START_HINT,
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    return ConnectionFailed(
        f"cannot connect to PostgreSQL at {where}: {first}", reason="other", hint=ADDRESS_HINT
    )


# libpq's TLS failures: words of its message, what is wrong, and what to set.
_TLS_FAILURES = (
    (
        ("does not match host name",),
        "the certificate of PostgreSQL at {where} is not for this host name",
        "connect by a name the certificate holds (POSTGRES_HOST), or reissue it",
    ),
    (
        ("certificate verify failed", "certificate has expired"),
        "the certificate of PostgreSQL at {where} does not verify",
        "set POSTGRES_SSLROOTCERT to the CA that signed it, or renew an expired one",
    ),
    (
        ("requires a valid client certificate", "certificate authentication"),
        "PostgreSQL at {where} requires a client certificate it accepts",
        "set POSTGRES_SSLCERT and POSTGRES_SSLKEY to one signed by the server's client CA",
    ),
    (
        ("server does not support ssl",),
        "PostgreSQL at {where} does not offer TLS, and POSTGRES_SSLMODE requires it",
        "turn ssl on in the server, or lower POSTGRES_SSLMODE (not on a network)",
    ),
    (
        ("root certificate file", "could not read certificate"),
        "cannot use the TLS files for PostgreSQL at {where}",
        "check POSTGRES_SSLROOTCERT, POSTGRES_SSLCERT and POSTGRES_SSLKEY",
    ),
)


def _tls_failure(lower: str, where: str) -> ConnectionFailed | None:
    """libpq's TLS failures, each as what is wrong and what to set."""
    for words, what, hint in _TLS_FAILURES:
        if any(w in lower for w in words):
            return ConnectionFailed(what.format(where=where), reason="tls", hint=hint)
    return None
