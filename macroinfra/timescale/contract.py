"""The declared spec against the database: every difference, as values.

`compare` turns a SchemaInspection into Differences (one per declared fact the database does
not match); `schema_report` pairs every table's declared and actual state for `schema show`;
`doctor --strict` groups the same Differences into its checks. On the Apache edition the
compression facts are differences marked `unavailable`: the edition cannot provide them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from macroinfra.errors import NotFound
from macroinfra.timescale.edition import ServerInfo
from macroinfra.timescale.inspect import (
    HypertableInfo,
    SchemaInspection,
    TableInfo,
    inspect_schema,
)
from macroinfra.timescale.spec import SHIPPED, Declared, HypertableSpec
from macroinfra.timescale.wording import declared_interval, describe_interval

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from macroinfra.db import Database

UNAVAILABLE = "unavailable: Apache edition"

# Aspects of a difference, grouped the way `doctor --strict` reports them.
TABLE_ASPECTS = ("table",)
HYPERTABLE_ASPECTS = ("hypertable", "time_column", "time_type", "chunk_interval")
COMPRESSION_ASPECTS = ("compression", "segment_by", "order_by")
POLICY_ASPECTS = ("compression_policy", "compress_after")
JOB_ASPECTS = ("job",)
INDEX_ASPECTS = ("unique_index",)


@dataclass(frozen=True)
class Difference:
    table: str
    aspect: str  # one of the *_ASPECTS above
    declared: str | None
    actual: str | None
    message: str  # one line for people
    unavailable: bool = False  # the server's edition cannot provide what is declared


@dataclass(frozen=True)
class DeclaredTable:
    kind: str  # "hypertable" or "table"
    time_column: str | None = None
    time_type: str | None = None
    chunk_interval: timedelta | None = None
    chunk_interval_sql: str | None = None  # as declared: "1 month"
    segment_by: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()  # "timestamp DESC"
    compress_after: timedelta | None = None

    @classmethod
    def of(cls, name: str, declared: Declared = SHIPPED) -> DeclaredTable | None:
        spec = declared.by_table.get(name)
        if spec is not None:
            return cls(
                "hypertable",
                spec.time_column,
                spec.time_type,
                spec.chunk_interval,
                spec.chunk_interval_sql,
                spec.segment_by,
                tuple(o.sql() for o in spec.order_by),
                spec.compress_after,
            )
        if name in declared.metadata_tables:
            return cls("table")
        return None


@dataclass(frozen=True)
class TableReport:
    name: str
    declared: DeclaredTable | None  # None: not in the spec (alembic_version, a table of yours)
    actual: TableInfo | None  # None: missing from the database
    differences: list[Difference] = field(default_factory=list)
    compression: str | None = None  # hypertables: "enabled", "disabled" or UNAVAILABLE
    __json_properties__ = ("kind", "matches")

    @property
    def kind(self) -> str:
        if self.actual is not None:
            return "hypertable" if self.actual.hypertable is not None else "table"
        return self.declared.kind if self.declared is not None else "table"

    @property
    def matches(self) -> bool:
        return not self.differences

    def differs(self, *aspects: str) -> bool:
        return any(d.aspect in aspects for d in self.differences)


@dataclass(frozen=True)
class SchemaReport:
    server: ServerInfo
    schema: str
    tables: list[TableReport]
    queries: int  # catalog queries sent to build this report
    elapsed_ms: float
    __json_properties__ = ("difference_count",)

    @property
    def difference_count(self) -> int:
        return sum(len(t.differences) for t in self.tables)


# -- comparison ------------------------------------------------------------------------------


def compare(inspection: SchemaInspection, declared: Declared = SHIPPED) -> list[Difference]:
    """Every way the database differs from the declared spec (empty: exactly as declared)."""
    out: list[Difference] = []
    for report in _reports(inspection, declared):
        out.extend(report.differences)
    return out


def schema_report(db: Database, table: str | None = None) -> SchemaReport:
    """Declared and actual state of every table (or one), for `schema show`.

    Raises NotFound (exit 1) for a table that is neither declared nor in the database, and
    ConfigError (exit 2) when the team's models (MACROINFRA_MODELS) cannot be read.
    """
    from macroinfra.db import connect
    from macroinfra.models.team import declared

    started = time.monotonic()
    spec = declared(db.settings)
    with connect(db.engine) as conn:
        report = build_report(conn, table, spec)
        if table is not None and not report.tables:
            known = _known_tables(conn, spec)
            raise NotFound(
                f"no table named {table!r} in schema {report.schema}",
                hint=f"known tables: {', '.join(known)}",
            )
    return SchemaReport(
        report.server,
        report.schema,
        report.tables,
        report.queries,
        round((time.monotonic() - started) * 1000, 1),
    )


def build_report(
    connection: Connection, table: str | None = None, declared: Declared = SHIPPED
) -> SchemaReport:
    started = time.monotonic()
    inspection = inspect_schema(connection, table)
    return report_from(inspection, round((time.monotonic() - started) * 1000, 1), declared)


def report_from(
    inspection: SchemaInspection, elapsed_ms: float = 0.0, declared: Declared = SHIPPED
) -> SchemaReport:
    """Pair every table's declared and actual state (`declared`: the shipped spec, or it and
    a team's hypertables), with the differences."""
    reports = _reports(inspection, declared)
    return SchemaReport(
        inspection.server, inspection.schema, reports, inspection.queries, elapsed_ms
    )


def _known_tables(connection: Connection, declared: Declared) -> list[str]:
    from sqlalchemy import text

    from macroinfra.timescale.inspect import SCHEMA

    present = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
        ),
        {"schema": SCHEMA},
    ).scalars()
    return sorted(set(present) | set(declared.metadata_tables) | set(declared.by_table))


def _reports(inspection: SchemaInspection, declared: Declared) -> list[TableReport]:
    names = {t.name for t in inspection.tables}
    by_table = declared.by_table
    declared_names = list(declared.metadata_tables) + list(by_table)
    if inspection.table_filter is not None:
        declared_names = [n for n in declared_names if n == inspection.table_filter]
    server = inspection.server
    reports = []
    for name in sorted(names | set(declared_names)):
        table = DeclaredTable.of(name, declared)
        actual = inspection.table(name)
        diffs = _differences(name, table, actual, server, by_table.get(name))
        compression = None
        if actual is not None and actual.hypertable is not None:
            compression = _compression_state(actual.hypertable, server)
        elif table is not None and table.kind == "hypertable":
            compression = UNAVAILABLE if not server.supports_compression else None
        reports.append(TableReport(name, table, actual, diffs, compression))
    return reports


def _compression_state(hyper: HypertableInfo, server: ServerInfo) -> str:
    if hyper.compression_enabled:
        return "enabled"
    return "disabled" if server.supports_compression else UNAVAILABLE


def _differences(
    name: str,
    declared: DeclaredTable | None,
    actual: TableInfo | None,
    server: ServerInfo,
    spec: HypertableSpec | None,
) -> list[Difference]:
    diffs: list[Difference] = []
    if declared is not None and actual is None:
        what = f"{declared.kind} {name} is missing"
        return [Difference(name, "table", declared.kind, "missing", what)]
    if actual is None:
        return diffs
    hyper = actual.hypertable
    if declared is not None and declared.kind == "table" and hyper is not None:
        diffs.append(
            Difference(
                name,
                "hypertable",
                "plain table",
                "hypertable",
                f"{name} is declared a plain table but is a hypertable",
            )
        )
    if spec is not None:
        if hyper is None:
            diffs.append(
                Difference(
                    name,
                    "hypertable",
                    f"hypertable on {spec.time_column}",
                    "plain table",
                    f"{name} is a plain table, declared a hypertable on {spec.time_column}",
                )
            )
        else:
            diffs.extend(_hypertable_differences(spec, hyper, server))
    if hyper is not None:
        diffs.extend(_job_differences(name, hyper))
        diffs.extend(_index_differences(name, hyper))
    return diffs


def _mismatch(name: str, aspect: str, what: str, declared: str, actual: str | None) -> Difference:
    return Difference(
        name, aspect, declared, actual, f"{name}: {what} {actual}, declared {declared}"
    )


def _hypertable_differences(
    spec: HypertableSpec, hyper: HypertableInfo, server: ServerInfo
) -> list[Difference]:
    name = spec.table
    diffs = []
    if hyper.time_column != spec.time_column:
        diffs.append(
            _mismatch(name, "time_column", "time column", spec.time_column, hyper.time_column)
        )
    if hyper.time_type != spec.time_type:
        diffs.append(
            _mismatch(name, "time_type", "time column type", spec.time_type, hyper.time_type)
        )
    if hyper.chunk_interval != spec.chunk_interval:
        declared = declared_interval(spec.chunk_interval, spec.chunk_interval_sql)
        actual = describe_interval(hyper.chunk_interval)
        diffs.append(_mismatch(name, "chunk_interval", "chunk interval", declared, actual))
    diffs.extend(_compression_differences(spec, hyper, server))
    diffs.extend(_policy_differences(spec, hyper, server))
    return diffs


def _compression_differences(
    spec: HypertableSpec, hyper: HypertableInfo, server: ServerInfo
) -> list[Difference]:
    name = spec.table
    if not server.supports_compression and not hyper.compression_enabled:
        return [
            Difference(
                name,
                "compression",
                f"segment by {spec.segment_by_sql}, order by {spec.order_by_sql}",
                UNAVAILABLE,
                f"{name}: compression not enabled ({UNAVAILABLE})",
                unavailable=True,
            )
        ]
    if not hyper.compression_enabled:
        message = f"{name}: compression is not enabled"
        return [Difference(name, "compression", "enabled", "disabled", message)]
    diffs = []
    if hyper.segment_by != spec.segment_by:
        actual = ", ".join(hyper.segment_by) or "(none)"
        diffs.append(_mismatch(name, "segment_by", "segment by", spec.segment_by_sql, actual))
    actual_order = [(o.column, o.descending) for o in hyper.order_by]
    if actual_order != [(o.column, o.descending) for o in spec.order_by]:
        actual = ", ".join(o.sql() for o in hyper.order_by) or "(none)"
        diffs.append(_mismatch(name, "order_by", "order by", spec.order_by_sql, actual))
    return diffs


def _policy_differences(
    spec: HypertableSpec, hyper: HypertableInfo, server: ServerInfo
) -> list[Difference]:
    name = spec.table
    policy = hyper.compression_policy
    declared = f"after {describe_interval(spec.compress_after)}"
    if policy is None and not server.supports_compression:
        return [
            Difference(
                name,
                "compression_policy",
                declared,
                UNAVAILABLE,
                f"{name}: no compression policy ({UNAVAILABLE})",
                unavailable=True,
            )
        ]
    if policy is None:
        message = f"{name}: no compression policy"
        return [Difference(name, "compression_policy", declared, "none", message)]
    if policy.compress_after != spec.compress_after:
        actual = (
            f"after {describe_interval(policy.compress_after)}"
            if policy.compress_after is not None
            else f"config {policy.config}"
        )
        return [
            _mismatch(name, "compress_after", "compression policy compresses", declared, actual)
        ]
    return []


def _job_differences(name: str, hyper: HypertableInfo) -> list[Difference]:
    diffs = []
    for job in hyper.jobs:
        label = f"job {job.job_id} ({job.proc_name})"
        if job.paused:
            diffs.append(
                Difference(name, "job", "scheduled", "paused", f"{name}: {label} is paused")
            )
        if job.failing:
            failures = f", {job.total_failures} failures" if job.total_failures else ""
            diffs.append(
                Difference(
                    name,
                    "job",
                    "succeeding",
                    "failing",
                    f"{name}: {label} failed its last run{failures}",
                )
            )
    return diffs


def _index_differences(name: str, hyper: HypertableInfo) -> list[Difference]:
    diffs = []
    if hyper.time_column is None:
        return diffs
    for index in hyper.unique_indexes:
        if hyper.time_column not in index.columns:
            cols = ", ".join(index.columns)
            diffs.append(
                Difference(
                    name,
                    "unique_index",
                    f"includes {hyper.time_column}",
                    f"({cols})",
                    f"{name}: unique index {index.name} ({cols}) lacks the time column "
                    f"{hyper.time_column}",
                )
            )
    return diffs
