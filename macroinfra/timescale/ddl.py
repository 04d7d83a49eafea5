"""DDL derived from the declared spec: hypertables, compression settings, compression policies.

Used by the initial migration, by macroinfra's Alembic operations (timescale/ops.py) and by
`migrate`, which applies compression whenever the edition allows it and the database lacks
it, so switching to the Community edition needs no SQL by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from macroinfra.timescale.spec import HYPERTABLES, HypertableSpec

Quote = Callable[[str], str]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def hypertable_sql(
    table: str, time_column: str, chunk_interval_sql: str, quote: Quote, *, migrate_data=False
) -> str:
    migrate = ", migrate_data => true" if migrate_data else ""
    return (
        f"SELECT create_hypertable({_literal(quote(table))}, "
        f"by_range({_literal(time_column)}, INTERVAL {_literal(chunk_interval_sql)}){migrate})"
    )


def create_hypertable(spec: HypertableSpec, quote: Quote) -> str:
    return hypertable_sql(spec.table, spec.time_column, spec.chunk_interval_sql, quote)


def chunk_interval_sql(table: str, chunk_interval_sql: str, quote: Quote) -> str:
    return (
        f"SELECT set_chunk_time_interval({_literal(quote(table))}, "
        f"INTERVAL {_literal(chunk_interval_sql)})"
    )


def compression_settings_sql(
    table: str, segment_by: Iterable[str], order_by: Iterable[str], quote: Quote
) -> str:
    """`order_by`: "column" or "column DESC"."""
    segment = ", ".join(quote(c) for c in segment_by)
    order = ", ".join(
        quote(o.split()[0]) + (" DESC" if o.upper().endswith(" DESC") else "") for o in order_by
    )
    return (
        f"ALTER TABLE {quote(table)} SET (timescaledb.compress, "
        f"timescaledb.compress_segmentby = {_literal(segment)}, "
        f"timescaledb.compress_orderby = {_literal(order)})"
    )


def enable_compression(spec: HypertableSpec, quote: Quote) -> str:
    order = [o.sql() for o in spec.order_by]
    return compression_settings_sql(spec.table, spec.segment_by, order, quote)


def disable_compression_sql(table: str, quote: Quote) -> str:
    return f"ALTER TABLE {quote(table)} SET (timescaledb.compress = false)"


def policy_sql(table: str, compress_after_sql: str, quote: Quote) -> str:
    return (
        f"SELECT add_compression_policy({_literal(quote(table))}, "
        f"INTERVAL {_literal(compress_after_sql)}, if_not_exists => true)"
    )


def add_compression_policy(spec: HypertableSpec, quote: Quote) -> str:
    return policy_sql(spec.table, spec.compress_after_sql, quote)


def remove_policy_sql(table: str, quote: Quote) -> str:
    return f"SELECT remove_compression_policy({_literal(quote(table))}, if_exists => true)"


def compression_statements(quote: Quote, specs: tuple[HypertableSpec, ...] = HYPERTABLES):
    for spec in specs:
        yield enable_compression(spec, quote)
        yield add_compression_policy(spec, quote)


def guarded(statements: Sequence[str]) -> str:
    """One DO block running `statements` only where the server's license allows compression.

    For offline SQL (`migrate sql`), where the edition cannot be read in advance."""
    body = "\n".join(f"    EXECUTE {_literal(stmt)};" for stmt in statements)
    return (
        "DO $$\nBEGIN\n"
        "  IF current_setting('timescaledb.license', true) = 'timescale' THEN\n"
        f"{body}\n"
        "  ELSE\n"
        "    RAISE NOTICE 'compression not applied: TimescaleDB Apache edition';\n"
        "  END IF;\nEND\n$$"
    )


def compression_block(quote: Quote) -> str:
    return guarded(list(compression_statements(quote)))
