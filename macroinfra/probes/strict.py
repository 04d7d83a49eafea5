"""`doctor --strict`: the schema is exactly as declared.

Migrations at head, then the differences of macroinfra.timescale.contract grouped into one
check per area (tables, hypertables, compression, compression policies, policy jobs, unique
indexes). On the Apache edition the compression checks fail with the edition's reason and fix.
The area checks all come from one catalog read, so they carry no latency of their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING

from macroinfra.addresses import split_host_port
from macroinfra.connections.tls import is_loopback
from macroinfra.errors import MacroinfraError, first_line
from macroinfra.probes.result import Check, Group, failed, ok
from macroinfra.services import SERVICES, service
from macroinfra.timescale import contract
from macroinfra.timescale.contract import Difference, SchemaReport
from macroinfra.timescale.edition import APACHE_FIX, APACHE_REASON
from macroinfra.timescale.spec import SHIPPED, Declared

if TYPE_CHECKING:
    from macroinfra.db import Database
    from macroinfra.settings import Settings

SERVICE = "timescaledb"
MIGRATE = "run `macroinfra migrate`"
_fail = partial(failed, group=Group.SCHEMA)
_ok = partial(ok, group=Group.SCHEMA)


def strict_checks(db: Database) -> Iterator[Check]:
    yield (migrated := _migrations(db))
    if migrated.reason == "not_migrated":  # nothing to compare: each area would just be empty
        return
    started = time.monotonic()
    try:
        from macroinfra.db import connect
        from macroinfra.models.team import declared

        spec = declared(db.settings)  # the shipped spec and the team's hypertables
        with connect(db.engine) as conn:
            report = contract.build_report(conn, declared=spec)
    except MacroinfraError as exc:
        yield _fail(
            "schema",
            SERVICE,
            f"not checked: {exc.message}",
            exc.hint or "fix the timescaledb line above",
            reason="unavailable",
            started=started,
        )
        return
    except Exception as exc:  # a query failed or ran past the statement timeout
        yield _fail(
            "schema",
            SERVICE,
            f"not checked: {first_line(exc)}",
            "run `macroinfra schema show` to see what the catalog query hit",
            reason="error",
            started=started,
        )
        return
    yield from contract_checks(report, spec)


def _migrations(db: Database) -> Check:
    from macroinfra import migrations

    name = "schema: migrations"
    started = time.monotonic()
    try:
        status = migrations.status(db)
    except MacroinfraError as exc:
        return _fail(
            name, SERVICE, exc.message, exc.hint or MIGRATE, reason="migrations", started=started
        )
    except Exception as exc:
        return _fail(
            name,
            SERVICE,
            f"cannot read the revision: {first_line(exc)}",
            MIGRATE,
            reason="error",
            started=started,
        )
    if status.at_head:
        return _ok(
            name,
            SERVICE,
            f"at head ({status.head})",
            started,
            current=status.current,
            head=status.head,
        )
    if status.current is None:
        return _fail(
            name,
            SERVICE,
            "not migrated: the database has no macroinfra schema yet",
            MIGRATE,
            reason="not_migrated",
            started=started,
            head=status.head,
        )
    pending = ", ".join(p.revision for p in status.pending)
    return _fail(
        name,
        SERVICE,
        f"at {status.current or 'no revision'}, head is {status.head}",
        MIGRATE,
        reason="migrations",
        started=started,
        problems=(f"pending: {pending}",) if pending else (),
        current=status.current,
        head=status.head,
    )


def contract_checks(report: SchemaReport, declared: Declared = SHIPPED) -> Iterator[Check]:
    """One check per area, from the differences in a schema report (no latency: one read);
    `declared`: what the report was compared with (the shipped spec, or it and a team's)."""
    diffs = [d for t in report.tables for d in t.differences]
    present = {t.name for t in report.tables if t.actual is not None}
    hypertables = [t for t in report.tables if t.kind == "hypertable" and t.actual is not None]
    declared_hyper = [n for n in declared.by_table if n in present]
    jobs = sum(
        len(t.actual.hypertable.jobs)
        for t in hypertables
        if t.actual is not None and t.actual.hypertable is not None
    )
    indexes = sum(
        len(t.actual.hypertable.unique_indexes)
        for t in hypertables
        if t.actual is not None and t.actual.hypertable is not None
    )
    count = len(declared.metadata_tables) + len(declared.by_table)

    yield _area(
        "schema: tables",
        _of(diffs, contract.TABLE_ASPECTS),
        ok_detail=f"all {count} declared tables present",
        hint="run `macroinfra migrate`; at head already, a table dropped by hand must be "
        "restored from a backup, or rebuilt with `macroinfra migrate down --to base` "
        "then `macroinfra migrate` (drops data)",
    )
    hyper_diffs = _of(diffs, contract.HYPERTABLE_ASPECTS)
    yield _area(
        "schema: hypertables",
        hyper_diffs,
        ok_detail=f"{len(declared_hyper)} hypertables with the declared time column and "
        "chunk interval",
        hint=_hypertable_hint(hyper_diffs, declared),
    )
    yield _area(
        "schema: compression",
        _of(diffs, contract.COMPRESSION_ASPECTS),
        ok_detail=f"{len(declared_hyper)} hypertables compressed as declared",
        hint="run `macroinfra migrate` (it enables missing compression); settings that "
        "differ: ALTER TABLE <table> SET (timescaledb.compress_segmentby = ..., "
        "timescaledb.compress_orderby = ...)",
    )
    yield _area(
        "schema: compression policies",
        _of(diffs, contract.POLICY_ASPECTS),
        ok_detail=f"{len(declared_hyper)} compression policies as declared",
        hint="run `macroinfra migrate` (it adds missing policies); a policy that differs: "
        "SELECT remove_compression_policy('<table>'), then `macroinfra migrate`",
    )
    yield _area(
        "schema: policy jobs",
        _of(diffs, contract.JOB_ASPECTS),
        ok_detail=f"{jobs} policy jobs, none failing or paused"
        if jobs
        else "no policy jobs to check",
        hint="see timescaledb_information.job_errors; resume a paused job with "
        "SELECT alter_job(<job_id>, scheduled => true)",
    )
    yield _area(
        "schema: unique indexes",
        _of(diffs, contract.INDEX_ASPECTS),
        ok_detail=f"{indexes} unique indexes, each includes its hypertable's time column",
        hint="recreate each listed index with the time column in its key",
    )


def _of(diffs: Sequence[Difference], aspects: Sequence[str]) -> list[Difference]:
    return [d for d in diffs if d.aspect in aspects]


def _area(name: str, diffs: list[Difference], *, ok_detail: str, hint: str) -> Check:
    if not diffs:
        return _ok(name, SERVICE, ok_detail, None)
    if all(d.unavailable for d in diffs):
        tables = sorted({d.table for d in diffs})
        return _fail(
            name,
            SERVICE,
            APACHE_REASON,
            APACHE_FIX,
            reason="edition",
            problems=(f"not applied to: {', '.join(tables)}",),
        )
    problems = tuple(d.message for d in diffs)
    count = len(diffs)
    detail = f"{count} difference{'s' if count != 1 else ''} from the declared schema"
    return _fail(name, SERVICE, detail, hint, reason="drift", problems=problems)


def _hypertable_hint(diffs: list[Difference], declared: Declared) -> str:
    intervals = [d for d in diffs if d.aspect == "chunk_interval"]
    if intervals and len(intervals) == len(diffs):
        calls = "; ".join(
            f"SELECT set_chunk_time_interval('{d.table}', INTERVAL "
            f"'{declared.by_table[d.table].chunk_interval_sql}')"
            for d in intervals
        )
        return f"run in psql: {calls} (applies to new chunks)"
    return (
        "the hypertables differ from the declared spec: rebuild them with the migration "
        "(`macroinfra migrate down --to base`, then `macroinfra migrate`; drops data)"
    )


# -- encryption: a service not on this machine is reached over TLS --------------------------


def _hosts(settings: Settings, name: str) -> list[str]:
    """The hosts a service is dialled at: every bootstrap server of Kafka's, one for the rest
    (none for a name that is no service)."""
    if name == "kafka":
        return [split_host_port(h)[0] for h in settings.kafka_bootstrap_servers.split(",")]
    return [service(name).address(settings)[0]] if name in SERVICES else []


# The settings that turn each service's TLS on.
_TLS_FIX = {
    "timescaledb": "set POSTGRES_SSLMODE=verify-full and POSTGRES_SSLROOTCERT (the server's CA)",
    "redis": "set REDIS_TLS=on and REDIS_TLS_CA (the server's CA), or a rediss:// REDIS_URL",
    "mongodb": "set MONGO_TLS=on and MONGO_TLS_CA (the server's CA)",
    "minio": "set MINIO_SECURE=on and MINIO_CA (the server's CA)",
    "kafka": "set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, and KAFKA_SSL_CA",
}


def plaintext_checks(settings: Settings, checks: Sequence[Check]) -> list[Check]:
    """--strict: a failure for each service answering without TLS from another machine. A
    probe says whether its connection was encrypted in its check's info (`encrypted`)."""
    out = []
    for check in checks:
        if check.name != check.service or check.info.get("encrypted") is not False:
            continue
        hosts = _hosts(settings, check.service)
        remote = [h for h in hosts if h and not is_loopback(h)]
        if remote:
            out.append(
                failed(
                    f"{check.service}: encryption",
                    check.service,
                    f"{', '.join(remote)} is reached without TLS: passwords and data cross "
                    "the network in clear",
                    _TLS_FIX.get(check.service, "turn TLS on for it"),
                    reason="plaintext",
                )
            )
    return out
