"""DDL derived from the declared spec: hypertables, compression settings, compression policies.

Used by the initial migration and by `migrate`, which applies compression whenever the edition
allows it and the database lacks it, so switching to the Community edition needs no SQL by hand.
"""

from __future__ import annotations

from collections.abc import Callable

from macroinfra.timescale.spec import HYPERTABLES, HypertableSpec

Quote = Callable[[str], str]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_hypertable(spec: HypertableSpec, quote: Quote) -> str:
    return (
        f"SELECT create_hypertable({_literal(quote(spec.table))}, "
        f"by_range({_literal(spec.time_column)}, INTERVAL {_literal(spec.chunk_interval_sql)}))"
    )


def enable_compression(spec: HypertableSpec, quote: Quote) -> str:
    segment_by = ", ".join(quote(c) for c in spec.segment_by)
    order_by = ", ".join(quote(o.column) + (" DESC" if o.descending else "") for o in spec.order_by)
    return (
        f"ALTER TABLE {quote(spec.table)} SET (timescaledb.compress, "
        f"timescaledb.compress_segmentby = {_literal(segment_by)}, "
        f"timescaledb.compress_orderby = {_literal(order_by)})"
    )


def add_compression_policy(spec: HypertableSpec, quote: Quote) -> str:
    return (
        f"SELECT add_compression_policy({_literal(quote(spec.table))}, "
        f"INTERVAL {_literal(spec.compress_after_sql)}, if_not_exists => true)"
    )


def compression_statements(quote: Quote, specs: tuple[HypertableSpec, ...] = HYPERTABLES):
    for spec in specs:
        yield enable_compression(spec, quote)
        yield add_compression_policy(spec, quote)


def compression_block(quote: Quote) -> str:
    """One DO block applying compression only where the server's license allows it.

    For offline SQL (`migrate sql`), where the edition cannot be read in advance.
    """
    body = "\n".join(f"    EXECUTE {_literal(stmt)};" for stmt in compression_statements(quote))
    return (
        "DO $$\nBEGIN\n"
        "  IF current_setting('timescaledb.license', true) = 'timescale' THEN\n"
        f"{body}\n"
        "  ELSE\n"
        "    RAISE NOTICE 'compression not applied: TimescaleDB Apache edition';\n"
        "  END IF;\nEND\n$$"
    )
