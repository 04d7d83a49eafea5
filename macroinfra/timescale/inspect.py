"""What the database actually holds, read from TimescaleDB's information views and pg catalogs.

A fixed handful of queries, whatever the number of tables, hypertables or chunks: one per kind
of fact (server, tables, hypertables with sizes and chunk counts, compression settings, jobs,
unique indexes), each covering every table at once. Names are bound as parameters, never
pasted into SQL. `inspect_schema` counts the statements it sends (`SchemaInspection.queries`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from macroinfra.timescale import edition
from macroinfra.timescale.edition import ServerInfo
from macroinfra.timescale.spec import OrderBy

if TYPE_CHECKING:
    from sqlalchemy import Connection

SCHEMA = "public"

# PostgreSQL's regtype spellings, in the short form the declared spec uses.
_SHORT_TYPES = {
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    proc_name: str  # e.g. "policy_compression"
    schedule_interval: timedelta | None
    scheduled: bool  # False: paused
    config: dict[str, Any] | None
    compress_after: timedelta | None  # for compression policies with an interval
    last_run_status: str | None  # "Success", "Failed" or None (never ran)
    job_status: str | None  # "Scheduled", "Running", "Paused", ...
    last_run_started_at: datetime | None
    last_successful_finish: datetime | None
    next_start: datetime | None
    total_runs: int | None
    total_failures: int | None

    @property
    def failing(self) -> bool:
        return self.last_run_status == "Failed"

    @property
    def paused(self) -> bool:
        return not self.scheduled or self.job_status == "Paused"


@dataclass(frozen=True)
class UniqueIndex:
    name: str
    columns: tuple[str, ...]  # "(expression)" for an expression column
    primary: bool


@dataclass(frozen=True)
class HypertableInfo:
    time_column: str | None
    time_type: str | None  # "timestamptz", "date", ...
    chunk_interval: timedelta | None
    num_chunks: int
    compressed_chunks: int
    compression_enabled: bool
    segment_by: tuple[str, ...]
    order_by: tuple[OrderBy, ...]
    total_bytes: int | None
    before_compression_bytes: int | None
    after_compression_bytes: int | None
    jobs: tuple[JobInfo, ...]
    unique_indexes: tuple[UniqueIndex, ...]
    __json_properties__ = ("compression_ratio",)

    @property
    def compression_policy(self) -> JobInfo | None:
        return next((j for j in self.jobs if j.proc_name == "policy_compression"), None)

    @property
    def compression_ratio(self) -> float | None:
        before, after = self.before_compression_bytes, self.after_compression_bytes
        if not before or not after:
            return None
        return round(before / after, 2)


@dataclass(frozen=True)
class TableInfo:
    name: str
    total_bytes: int
    approximate_rows: int | None  # None: never analysed
    hypertable: HypertableInfo | None = None


@dataclass(frozen=True)
class SchemaInspection:
    server: ServerInfo
    schema: str
    tables: list[TableInfo]
    queries: int = 0  # statements sent to the server to build this
    table_filter: str | None = None

    def table(self, name: str) -> TableInfo | None:
        return next((t for t in self.tables if t.name == name), None)


@dataclass
class QueryCounter:
    count: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def count_queries(connection: Connection) -> Iterator[QueryCounter]:
    """Count the statements sent over a SQLAlchemy connection while the block runs."""
    from sqlalchemy import event

    counter = QueryCounter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counter.count += 1
        counter.statements.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(connection, "before_cursor_execute", before)


# -- the queries -----------------------------------------------------------------------------

_FILTER = "(CAST(:table AS text) IS NULL OR {column} = CAST(:table AS text))"


def _finite(expression: str) -> str:
    # TimescaleDB writes -infinity/infinity for "never"; Python datetimes cannot hold them.
    return f"CASE WHEN isfinite({expression}) THEN {expression} END"


TABLES_SQL = f"""
SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND {_FILTER.format(column="c.relname")}
ORDER BY c.relname
"""

HYPERTABLES_SQL = f"""
SELECT h.hypertable_name, h.num_chunks, h.compression_enabled,
       d.column_name, d.column_type::text, d.time_interval,
       pg_total_relation_size(r.rel) + coalesce(chunks.bytes, 0) + coalesce(compressed.bytes, 0),
       cs.number_compressed_chunks,
       cs.before_compression_total_bytes, cs.after_compression_total_bytes,
       CASE WHEN chunks.analysed IS FALSE THEN NULL ELSE approximate_row_count(r.rel) END
FROM timescaledb_information.hypertables h
CROSS JOIN LATERAL (SELECT format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
                    AS rel) r
LEFT JOIN timescaledb_information.dimensions d
       ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
      AND d.dimension_number = 1
LEFT JOIN _timescaledb_catalog.hypertable cat
       ON cat.schema_name = h.hypertable_schema AND cat.table_name = h.hypertable_name
LEFT JOIN _timescaledb_catalog.hypertable comp ON comp.id = cat.compressed_hypertable_id
LEFT JOIN LATERAL (SELECT sum(pg_total_relation_size(i.inhrelid)) AS bytes,
                          bool_or(k.reltuples >= 0) AS analysed  -- -1: never analysed
                   FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid
                   WHERE i.inhparent = r.rel) chunks ON true
LEFT JOIN LATERAL (SELECT sum(pg_total_relation_size(i.inhrelid)) AS bytes
                   FROM pg_inherits i
                   WHERE i.inhparent = to_regclass(quote_ident(comp.schema_name) || '.'
                                                   || quote_ident(comp.table_name))) compressed
       ON true
LEFT JOIN LATERAL hypertable_compression_stats(r.rel) cs ON true
WHERE h.hypertable_schema = :schema AND {_FILTER.format(column="h.hypertable_name")}
"""

COMPRESSION_SETTINGS_SQL = f"""
SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index,
       orderby_asc, orderby_nullsfirst
FROM timescaledb_information.compression_settings
WHERE hypertable_schema = :schema AND {_FILTER.format(column="hypertable_name")}
ORDER BY hypertable_name, segmentby_column_index NULLS LAST, orderby_column_index NULLS LAST
"""

JOBS_SQL = f"""
SELECT j.hypertable_name, j.job_id, j.proc_name, j.schedule_interval, j.scheduled, j.config,
       CASE WHEN jsonb_typeof(j.config -> 'compress_after') = 'string'
            THEN (j.config ->> 'compress_after')::interval END,
       s.last_run_status, s.job_status, {_finite("s.last_run_started_at")},
       {_finite("s.last_successful_finish")}, {_finite("coalesce(s.next_start, j.next_start)")},
       s.total_runs, s.total_failures
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
WHERE j.hypertable_schema = :schema AND {_FILTER.format(column="j.hypertable_name")}
ORDER BY j.hypertable_name, j.job_id
"""

UNIQUE_INDEXES_SQL = f"""
SELECT t.relname, i.relname, ix.indisprimary,
       array_agg(coalesce(a.attname::text, '(expression)') ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class i ON i.oid = ix.indexrelid
CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
WHERE ix.indisunique AND n.nspname = :schema
  AND k.ord <= ix.indnkeyatts
  AND {_FILTER.format(column="t.relname")}
  AND EXISTS (SELECT 1 FROM timescaledb_information.hypertables h
              WHERE h.hypertable_schema = n.nspname AND h.hypertable_name = t.relname)
GROUP BY t.relname, i.relname, ix.indisprimary
ORDER BY t.relname, i.relname
"""


def inspect_schema(
    connection: Connection, table: str | None = None, *, schema: str = SCHEMA
) -> SchemaInspection:
    """Every table of `schema` (or only `table`), with everything TimescaleDB knows about the
    hypertables among them. Runs at most six queries."""
    from sqlalchemy import text

    params = {"schema": schema, "table": table}
    with count_queries(connection) as counter:
        server = edition.read_server(connection)
        tables = connection.execute(text(TABLES_SQL), params).all()
        hypertables: dict[str, HypertableInfo] = {}
        hyper_rows: dict[str, Any] = {}
        if server.extension_version is not None:
            hyper_rows = {r[0]: r for r in connection.execute(text(HYPERTABLES_SQL), params)}
        if hyper_rows:
            settings = _compression_settings(
                connection.execute(text(COMPRESSION_SETTINGS_SQL), params)
            )
            jobs = _jobs(connection.execute(text(JOBS_SQL), params))
            indexes = _indexes(connection.execute(text(UNIQUE_INDEXES_SQL), params))
            for name, row in hyper_rows.items():
                hypertables[name] = _hypertable(
                    row, settings.get(name, ((), ())), jobs.get(name, ()), indexes.get(name, ())
                )
        if connection.in_transaction():
            connection.rollback()
    result = []
    for name, total_bytes, reltuples in tables:
        hyper = hypertables.get(name)
        if hyper is not None:
            rows = hyper_rows[name][10]
            result.append(TableInfo(name, int(hyper.total_bytes or 0), _rows(rows), hyper))
        else:
            result.append(TableInfo(name, int(total_bytes), _rows(reltuples)))
    return SchemaInspection(server, schema, result, counter.count, table)


def _rows(value: Any) -> int | None:
    if value is None or value < 0:
        return None
    return int(value)


def _short_type(regtype: str | None) -> str | None:
    if regtype is None:
        return None
    return _SHORT_TYPES.get(regtype, regtype)


def _hypertable(
    row: Any,
    settings: tuple[tuple[str, ...], tuple[OrderBy, ...]],
    jobs: tuple[JobInfo, ...],
    indexes: tuple[UniqueIndex, ...],
) -> HypertableInfo:
    (
        _name,
        num_chunks,
        compression_enabled,
        column,
        column_type,
        interval,
        total_bytes,
        compressed,
        before,
        after,
        _rows,
    ) = row
    return HypertableInfo(
        time_column=column,
        time_type=_short_type(column_type),
        chunk_interval=interval,
        num_chunks=int(num_chunks or 0),
        compressed_chunks=int(compressed or 0),
        compression_enabled=bool(compression_enabled),
        segment_by=settings[0],
        order_by=settings[1],
        total_bytes=_int(total_bytes),
        before_compression_bytes=_int(before),
        after_compression_bytes=_int(after),
        jobs=jobs,
        unique_indexes=indexes,
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _compression_settings(
    rows: Any,
) -> dict[str, tuple[tuple[str, ...], tuple[OrderBy, ...]]]:
    segment: dict[str, list[tuple[int, str]]] = {}
    order: dict[str, list[tuple[int, OrderBy]]] = {}
    for table, column, seg_index, order_index, asc, nulls_first in rows:
        if seg_index is not None:
            segment.setdefault(table, []).append((seg_index, column))
        if order_index is not None:
            entry = OrderBy(column, descending=not asc, nulls_first=bool(nulls_first))
            order.setdefault(table, []).append((order_index, entry))
    return {
        table: (
            tuple(c for _, c in sorted(segment.get(table, []))),
            tuple(o for _, o in sorted(order.get(table, []), key=lambda item: item[0])),
        )
        for table in set(segment) | set(order)
    }


def _jobs(rows: Any) -> dict[str, tuple[JobInfo, ...]]:
    jobs: dict[str, list[JobInfo]] = {}
    # Each row: the table, then JobInfo's fields in order (counts may come back as Decimal).
    for table, job_id, proc, schedule, scheduled, *middle, runs, failures in rows:
        job = JobInfo(job_id, proc, schedule, bool(scheduled), *middle, _int(runs), _int(failures))
        jobs.setdefault(table, []).append(job)
    return {t: tuple(js) for t, js in jobs.items()}


def _indexes(rows: Any) -> dict[str, tuple[UniqueIndex, ...]]:
    indexes: dict[str, list[UniqueIndex]] = {}
    for table, name, primary, columns in rows:
        indexes.setdefault(table, []).append(UniqueIndex(name, tuple(columns), bool(primary)))
    return {t: tuple(ix) for t, ix in indexes.items()}
