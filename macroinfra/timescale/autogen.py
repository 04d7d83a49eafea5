"""Autogenerate for a team's declared hypertables: what TimescaleDB holds against what the
models declare (macroinfra.models.hypertable), as macroinfra's own operations (ops.py).

A declared table that is not yet a hypertable gets `create_hypertable`, its compression
settings and its compression policy; a hypertable whose chunk interval, segment-by/order-by or
policy delay differs from the declaration gets the operation that changes it. Compression or a
policy that is missing altogether is not a difference here: `macroinfra migrate` adds them
once the edition allows it (on the Apache edition they cannot exist). Importing this module
registers the comparison with Alembic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alembic.autogenerate import comparators
from alembic.util import DispatchPriority

from macroinfra.timescale import ops
from macroinfra.timescale.spec import HypertableSpec

_STATE_SQL = """
SELECT c.relname,
       h.hypertable_name IS NOT NULL,
       d.time_interval,
       coalesce(h.compression_enabled, false),
       (SELECT j.config ->> 'compress_after' FROM timescaledb_information.jobs j
        WHERE j.proc_name = 'policy_compression' AND j.hypertable_schema = n.nspname
          AND j.hypertable_name = c.relname LIMIT 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN timescaledb_information.hypertables h
       ON h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname
LEFT JOIN timescaledb_information.dimensions d
       ON d.hypertable_schema = n.nspname AND d.hypertable_name = c.relname
      AND d.dimension_number = 1
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(:names)
"""

_SETTINGS_SQL = """
SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc
FROM timescaledb_information.compression_settings
WHERE hypertable_schema = 'public' AND hypertable_name = ANY(:names)
ORDER BY hypertable_name, segmentby_column_index NULLS LAST, orderby_column_index NULLS LAST
"""


def team_specs(autogen_context: Any) -> tuple[HypertableSpec, ...]:
    """The hypertables the compared models declare (the tables autogenerate's filters keep)."""
    from macroinfra.models.declare import declared_hypertables

    metadata = autogen_context.metadata
    tables: dict[str, Any] = {}
    for meta in metadata if isinstance(metadata, list | tuple) else [metadata]:
        if meta is not None:
            tables.update(meta.tables)
    kept = {
        name: table
        for name, table in tables.items()
        if autogen_context.run_object_filters(table, name, "table", False, None)
    }
    return declared_hypertables(kept)


@comparators.dispatch_for("schema", priority=DispatchPriority.LAST)
def compare_hypertables(autogen_context: Any, upgrade_ops: Any, schemas: Any) -> None:
    if None not in schemas:
        return
    specs = team_specs(autogen_context)
    if specs and autogen_context.connection is not None:
        upgrade_ops.ops.extend(hypertable_ops(autogen_context.connection, specs))


def hypertable_ops(connection: Any, specs: tuple[HypertableSpec, ...]) -> Iterator[Any]:
    """The operations that bring the database to the declared `specs`."""
    from sqlalchemy import text

    names = [s.table for s in specs]
    extension = connection.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar()
    state: dict[str, tuple[Any, ...]] = {}
    settings: dict[str, tuple[list[str], list[str]]] = {}
    if extension:
        state = {r[0]: tuple(r[1:]) for r in connection.execute(text(_STATE_SQL), {"names": names})}
        for table, column, segment, order, ascending in connection.execute(
            text(_SETTINGS_SQL), {"names": names}
        ):
            segment_by, order_by = settings.setdefault(table, ([], []))
            if segment is not None:
                segment_by.append(column)
            if order is not None:
                order_by.append(column if ascending else f"{column} DESC")
    for spec in specs:
        is_hypertable, interval, compressed, compress_after = state.get(
            spec.table, (False, None, False, None)
        )
        yield from _spec_ops(spec, spec.table in state, is_hypertable, interval, compressed)
        if is_hypertable and compressed:
            yield from _settings_ops(spec, *settings.get(spec.table, ([], [])))
        if is_hypertable and compress_after is not None:
            yield from _policy_ops(spec, compress_after, connection)


def _spec_ops(spec, exists, is_hypertable, interval, compressed):  # type: ignore[no-untyped-def]
    from macroinfra.timescale.wording import describe_interval

    order_by = [o.sql() for o in spec.order_by]
    if not is_hypertable:
        yield ops.CreateHypertableOp(
            spec.table, spec.time_column, spec.chunk_interval_sql, exists or None
        )
        yield ops.EnableCompressionOp(spec.table, spec.segment_by, order_by)
        yield ops.AddCompressionPolicyOp(spec.table, spec.compress_after_sql)
    elif interval != spec.chunk_interval:
        old = describe_interval(interval)
        yield ops.SetChunkIntervalOp(spec.table, spec.chunk_interval_sql, old)


def _settings_ops(spec: HypertableSpec, segment_by: list[str], order_by: list[str]):  # type: ignore[no-untyped-def]
    declared_order = [o.sql() for o in spec.order_by]
    if list(spec.segment_by) != segment_by or declared_order != order_by:
        yield ops.EnableCompressionOp(
            spec.table, spec.segment_by, declared_order, segment_by, order_by
        )


def _policy_ops(spec: HypertableSpec, compress_after: str, connection: Any):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    actual = connection.execute(text("SELECT CAST(:v AS interval)"), {"v": compress_after}).scalar()
    if actual != spec.compress_after:
        yield ops.AddCompressionPolicyOp(spec.table, spec.compress_after_sql, compress_after)


def tidy(script: Any) -> None:
    """Ready an autogenerated revision for writing: a new table's hypertable declaration is
    macroinfra's operations, not part of create_table; and a hypertable needs no downgrade
    step of its own (it goes with its table)."""
    from alembic.operations.ops import CreateTableOp

    from macroinfra.models.declare import INFO_KEY

    for upgrade in script.upgrade_ops_list:
        for op in upgrade.ops:
            if isinstance(op, CreateTableOp) and op.info and INFO_KEY in op.info:
                op.info = {k: v for k, v in op.info.items() if k != INFO_KEY}
    for downgrade in script.downgrade_ops_list:
        downgrade.ops[:] = [o for o in downgrade.ops if not isinstance(o, ops.DropHypertableOp)]
