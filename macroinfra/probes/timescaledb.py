"""TimescaleDB: connect as the configured user; server version, extension version, edition.

With --strict, the same probe then checks the schema against the declared contract
(macroinfra.probes.strict) on connections bounded by the probe's budget. Without it, the probe
needs psycopg only: SQLAlchemy is not imported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from macroinfra.db import ADDRESS_HINT, Database, connection_error
from macroinfra.errors import first_line
from macroinfra.probes.result import Check, Group, failed, ok, warning
from macroinfra.probes.runner import Budget
from macroinfra.timescale import edition

if TYPE_CHECKING:
    from concurrent.futures import Future

    from macroinfra.settings import Settings
    from macroinfra.timescale.edition import ServerInfo

SERVICE = "timescaledb"
VERIFY_HINT = "set POSTGRES_SSLMODE=verify-full and POSTGRES_SSLROOTCERT to the CA that signed it"
_fail = partial(failed, SERVICE, SERVICE)
_warn = partial(warning, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)


def _connect_timeout(budget: Budget) -> int:
    # libpq counts whole seconds, and at least 2; the runner's deadline bounds the rest.
    return max(2, math.floor(budget.client_timeout()))


def _statement_timeout_ms(budget: Budget) -> int:
    return max(100, int(budget.client_timeout() * 1000))


def _bounded(settings: Settings, budget: Budget) -> Database:
    """Connections bounded by what is left of the budget (connect and statement timeouts),
    with no pool kept behind."""
    return Database(
        settings,
        connect_timeout=_connect_timeout(budget),
        statement_timeout_ms=_statement_timeout_ms(budget),
        application_name="macroinfra doctor",
        pool=False,
    )


def probe(settings: Settings, budget: Budget, *, strict: bool = False) -> Iterator[Check]:
    import psycopg

    s = settings
    started = time.monotonic()
    from macroinfra.connections.postgres import connect_kwargs

    peer = _start_peer(s, budget)
    try:
        # The probe's bounds win over DATABASE_URL's own connect_timeout (psycopg only: no
        # engine is built).
        bounded = _bounded(settings, budget).connect_args
        conn = psycopg.connect(**connect_kwargs(s, **bounded), autocommit=True)
    except psycopg.Error as exc:
        yield _connection_failure(exc, settings, started, peer)
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
    encrypted = bool(conn.pgconn.ssl_in_use)
    try:
        server = edition.read_server(conn)
        jobs = _job_runs(conn) if server.extension_version else None
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
    tls = _tls_check(settings, budget, peer) if encrypted and peer is not None else None
    from macroinfra.probes.tls import with_encryption

    protocol = tls.info.get("protocol") if tls is not None else None
    check = _server_check(settings, started, server)
    yield with_encryption(check, encrypted, protocol, host=settings.postgres_host)
    if tls is not None:
        yield tls
    if jobs is not None:
        yield _jobs_check(jobs)
    if not server.is_utf8:
        yield _encoding_check(settings, server)
    if strict:
        from macroinfra.probes.strict import strict_checks

        db = _bounded(settings, budget)
        try:
            yield from strict_checks(db)
        finally:
            db.dispose()


def _server_check(s: Settings, started: float, server: ServerInfo) -> Check:
    extension = server.extension_version
    version = f"PostgreSQL {server.server_version.split()[0]}"
    info: dict[str, Any] = {
        "server_version": server.server_version,
        "extension_version": extension,
        "license": server.license,
        "database": s.postgres_db,
        "user": s.postgres_user,
    }
    if extension is None and not server.extension_available:
        return _fail(
            f"{version}, but TimescaleDB is not installed on it",
            "install TimescaleDB for this server, or use the timescale/timescaledb image",
            reason="missing",
            started=started,
            **info,
        )
    if extension is None:
        return _warn(
            f"{version}; the timescaledb extension is not created in database {s.postgres_db!r}",
            "run `macroinfra migrate`",
            reason="not_migrated",
            started=started,
            **info,
        )
    detail = f"{version}, TimescaleDB {extension} ({server.edition} edition)"
    info["edition"] = server.edition
    if server.license == edition.APACHE:
        return _warn(
            f"{detail}: no compression",
            edition.APACHE_FIX,
            reason="edition",
            started=started,
            edition_reason=edition.APACHE_REASON,
            **info,
        )
    return _ok(detail, started, **info)


def _encoding_check(s: Settings, server: ServerInfo) -> Check:
    """A database that is not UTF-8 stores text in another encoding (SQL_ASCII: unchecked
    bytes), so names and units outside ASCII can be refused or garbled."""
    name = s.postgres_db
    return warning(
        f"{SERVICE}: encoding",
        SERVICE,
        f"database {name!r} is encoded {server.encoding}, not UTF8",
        f"create it as UTF-8 (`createdb -E UTF8 -T template0 {name}`, or CREATE DATABASE "
        f"{name} ENCODING 'UTF8' TEMPLATE template0) and migrate and load it again",
        reason="encoding",
        encoding=server.encoding,
    )


def _connection_failure(
    exc: BaseException, s: Settings, started: float, peer: Future[Any] | None = None
) -> Check:
    error = connection_error(exc, s.postgres_host, s.postgres_port, s.postgres_user, s.postgres_db)
    if error.reason == "tls" and peer is not None:
        return _tls_failure(s, peer, error.message, error.hint)
    return _fail(error.message, error.hint or ADDRESS_HINT, reason=error.reason, started=started)


# -- background jobs: each one whose last run failed, with the error it failed with ----------

JOB_RUNS_SQL = """
SELECT s.job_id, j.proc_name, j.hypertable_name, s.last_run_status, s.total_failures,
       e.sqlerrcode, e.err_message
FROM timescaledb_information.job_stats s
JOIN timescaledb_information.jobs j ON j.job_id = s.job_id
LEFT JOIN LATERAL (
    SELECT sqlerrcode, err_message FROM timescaledb_information.job_errors x
    WHERE x.job_id = s.job_id ORDER BY x.finish_time DESC NULLS LAST LIMIT 1
) e ON true
ORDER BY s.job_id
"""
# A fault of the server, not of the job: PostgreSQL 15.20 with TimescaleDB 2.19 to 2.28 fails
# every background job with it, while the same job run in a session works.
PORTAL_FAULT = 'cannot drop portal "" while it is being set up'
JOB_ERROR_MAX = 300


def _job_runs(conn: Any) -> list[tuple[Any, ...]] | None:
    """Every job's last run and latest error; None where the views cannot be read (an
    extension too old to have job_errors, or a role not allowed to read them)."""
    import psycopg

    try:
        return conn.execute(JOB_RUNS_SQL).fetchall()
    except psycopg.Error:
        return None


def _jobs_check(runs: list[tuple[Any, ...]]) -> Check:
    name = f"{SERVICE}: jobs"
    failing = [r for r in runs if r[3] == "Failed"]
    if not failing:
        return ok(name, SERVICE, f"{len(runs)} background jobs ran, none failing", None)
    problems = []
    jobs = []
    for job_id, proc, table, _, failures, code, message in failing:
        error = " ".join((message or "no error recorded in job_errors").split())[:JOB_ERROR_MAX]
        on = f" on {table}" if table else ""
        count = f", {failures} failure{'s' if failures != 1 else ''}" if failures else ""
        state = f" (SQLSTATE {code})" if code else ""
        problems.append(f"job {job_id} ({proc}{on}{count}): {error}{state}")
        jobs.append(
            {
                "job_id": job_id,
                "proc_name": proc,
                "hypertable": table,
                "error": error,
                "sqlstate": code,
                "total_failures": failures,
            }
        )
    what = problems[0] if len(problems) == 1 else f"{len(problems)} background jobs"
    return warning(
        name,
        SERVICE,
        f"last run failed: {what}",
        _job_hint([j["error"] for j in jobs]),
        reason="job_failed",
        problems=tuple(problems) if len(problems) > 1 else (),
        jobs=jobs,
    )


def _job_hint(errors: list[str]) -> str:
    if any(PORTAL_FAULT in e for e in errors):
        return (
            "a fault of PostgreSQL 15.20 with TimescaleDB 2.19-2.28 (every background job "
            "fails; `CALL run_job(<job_id>)` in psql works): use another PostgreSQL release"
        )
    if any(edition.APACHE in e and "license" in e for e in errors):
        return (
            "the job needs the Community edition of TimescaleDB (the timescale/timescaledb "
            "image, or Timescale's own packages); this server runs the Apache edition"
        )
    return (
        "fix its cause, then run it now with `CALL run_job(<job_id>)` in `macroinfra db shell`; "
        "every failure: SELECT * FROM timescaledb_information.job_errors"
    )


# -- TLS ---------------------------------------------------------------------------------------


def _start_peer(s: Settings, budget: Budget) -> Future[Any] | None:
    """The server's certificate, read by a handshake of our own (libpq does not hand it out)
    in a thread beside libpq's connection, so that the two take the time of one."""
    if s.postgres_sslmode == "disable":
        return None
    from concurrent.futures import ThreadPoolExecutor

    from macroinfra.connections.tls import inspect_peer

    where, timeout = (s.postgres_host, s.postgres_port), budget.client_timeout()
    pool = ThreadPoolExecutor(1, thread_name_prefix="macroinfra-tls")
    try:
        return pool.submit(inspect_peer, *where, s.postgres_sslrootcert, timeout, postgres=True)
    finally:
        pool.shutdown(wait=False)


def _tls_check(s: Settings, budget: Budget, future: Future[Any]) -> Check | None:
    """The certificate of the server libpq just reached over TLS (libpq does not hand it out)."""
    from macroinfra.probes.tls import tls_check

    where = f"{s.postgres_host}:{s.postgres_port}"
    try:
        peer = future.result(timeout=budget.client_timeout())
    except (OSError, TimeoutError) as exc:
        return _warn(
            f"TLS in use, but its certificate could not be read: {exc}",
            ADDRESS_HINT,
            reason="tls_unread",
        )
    # With a CA file, libpq checks the chain under sslmode=require too (as verify-ca does).
    mode, ca = s.postgres_sslmode, s.postgres_sslrootcert
    verifies = mode in ("verify-ca", "verify-full") or (mode == "require" and ca is not None)
    return tls_check(SERVICE, where, peer, client_verifies=verifies, verify_hint=VERIFY_HINT)


def _tls_failure(s: Settings, future: Future[Any], message: str, hint: str | None) -> Check:
    """libpq refused the server's certificate: say what is wrong with it."""
    from macroinfra.probes.tls import handshake_failure

    where = f"{s.postgres_host}:{s.postgres_port}"
    try:
        peer = future.result()  # bounded by its own socket timeout
    except OSError:
        peer = None
    if peer is None or not peer.encrypted or peer.problem is None:
        return _fail(
            message, hint or "check POSTGRES_SSLMODE and POSTGRES_SSLROOTCERT", reason="tls"
        )
    ca = s.postgres_sslrootcert
    return handshake_failure(SERVICE, where, peer, "POSTGRES_SSLROOTCERT", ca)
