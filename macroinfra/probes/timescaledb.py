"""TimescaleDB: connect as the configured user; server version, extension version, edition.

With --strict, the same probe then checks the schema against the declared contract
(macroinfra.probes.strict) on connections bounded by the probe's budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from macroinfra.db import ADDRESS_HINT, Database, connection_error
from macroinfra.errors import first_line
from macroinfra.probes.result import Check, Group, failed, ok, warning
from macroinfra.probes.runner import Budget
from macroinfra.timescale.edition import APACHE_FIX, APACHE_REASON, Edition

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from macroinfra.settings import Settings

SERVICE = "timescaledb"
_fail = partial(failed, SERVICE, SERVICE)
_warn = partial(warning, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)

INFO_SQL = """
SELECT current_setting('server_version'),
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
       current_setting('timescaledb.license', true),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
"""


def _connect_timeout(budget: Budget) -> int:
    # libpq counts whole seconds, and at least 2; the runner's deadline bounds the rest.
    return max(2, math.floor(budget.client_timeout()))


def _statement_timeout_ms(budget: Budget) -> int:
    return max(100, int(budget.client_timeout() * 1000))


def probe(settings: Settings, budget: Budget, *, strict: bool = False) -> Iterator[Check]:
    import psycopg

    s = settings
    started = time.monotonic()
    try:
        conn = psycopg.connect(
            host=s.postgres_host,
            port=s.postgres_port,
            user=s.postgres_user,
            password=s.postgres_password.get_secret_value(),
            dbname=s.postgres_db,
            connect_timeout=_connect_timeout(budget),
            application_name="macroinfra doctor",
            options=f"-c statement_timeout={_statement_timeout_ms(budget)}",
            autocommit=True,
        )
    except psycopg.Error as exc:
        yield _connection_failure(exc, settings, started)
        if strict:
            yield failed(
                "schema",
                SERVICE,
                "not checked: TimescaleDB did not accept a connection",
                "fix the timescaledb line above, then run again",
                reason="unavailable",
                group=Group.SCHEMA,
            )
        return
    try:
        version, extension, license_, available = conn.execute(INFO_SQL).fetchone()  # type: ignore[misc]
    except psycopg.Error as exc:
        yield _fail(
            f"connected, but a query failed: {first_line(exc)}",
            ADDRESS_HINT,
            reason="error",
            started=started,
        )
        return
    finally:
        conn.close()
    yield _server_check(settings, started, version, extension, license_ or None, available)
    if strict:
        from macroinfra.probes.strict import strict_checks

        db = BoundedDatabase(settings, budget)
        try:
            yield from strict_checks(db)
        finally:
            db.dispose()


def _server_check(
    s: Settings,
    started: float,
    version: str,
    extension: str | None,
    license_: str | None,
    available: bool,
) -> Check:
    server = f"PostgreSQL {version.split()[0]}"
    info: dict[str, Any] = {
        "server_version": version,
        "extension_version": extension,
        "license": license_,
        "database": s.postgres_db,
        "user": s.postgres_user,
    }
    if extension is None and not available:
        return _fail(
            f"{server}, but TimescaleDB is not installed on it",
            "install TimescaleDB for this server, or use the timescale/timescaledb image",
            reason="missing",
            started=started,
            **info,
        )
    if extension is None:
        return _warn(
            f"{server}; the timescaledb extension is not created in database {s.postgres_db!r}",
            "run `macroinfra migrate`",
            reason="not_migrated",
            started=started,
            **info,
        )
    edition = Edition(license_, extension).label
    detail = f"{server}, TimescaleDB {extension} ({edition} edition)"
    info["edition"] = edition
    if license_ == "apache":
        return _warn(
            f"{detail}: no compression",
            APACHE_FIX,
            reason="edition",
            started=started,
            edition_reason=APACHE_REASON,
            **info,
        )
    return _ok(detail, started, **info)


def _connection_failure(exc: BaseException, s: Settings, started: float) -> Check:
    error = connection_error(exc, s.postgres_host, s.postgres_port, s.postgres_user, s.postgres_db)
    return _fail(error.message, error.hint or ADDRESS_HINT, reason=error.reason, started=started)


class BoundedDatabase(Database):
    """A Database whose connections are bounded by a probe's budget: connect timeout,
    statement timeout, and no pool kept behind."""

    def __init__(self, settings: Settings, budget: Budget) -> None:
        super().__init__(settings)
        self.budget = budget

    @cached_property
    def engine(self) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(
            self.settings.sync_database_url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": _connect_timeout(self.budget),
                "options": f"-c statement_timeout={_statement_timeout_ms(self.budget)}",
                "application_name": "macroinfra doctor",
            },
        )
