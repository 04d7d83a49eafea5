"""The public way for a model to declare that its table is a hypertable.

    class FxRate(Base):
        __tablename__ = "fx_rates"
        __table_args__ = (
            natural_key("fx_rates", "pair", "rate_date"),
            hypertable(
                time_column="rate_date",
                chunk_interval="1 month",
                segment_by=["pair"],
                order_by=["rate_date DESC"],
                compress_after="30 days",
            ),
        )

The same fields as the shipped spec (macroinfra.timescale.spec). A declared hypertable joins
the contract (`doctor --strict`, `schema show`) and autogenerate (`migrate revision
--autogenerate`) writes its TimescaleDB operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from macroinfra.timescale.spec import POLICY_UNITS, HypertableSpec, OrderBy, parse_interval

INFO_KEY = "macroinfra.hypertable"


@dataclass(frozen=True)
class Declaration:
    time_column: str
    chunk_interval: tuple[timedelta, str]
    segment_by: tuple[str, ...]
    order_by: tuple[OrderBy, ...]
    compress_after: tuple[timedelta, str]


def hypertable(
    *,
    time_column: str,
    chunk_interval: str | timedelta,
    segment_by: Iterable[str],
    order_by: Iterable[str],
    compress_after: str | timedelta,
) -> dict[str, Any]:
    """Table options declaring a hypertable: put the result last in `__table_args__`.

    `chunk_interval`: '1 month', '7 days', ... (a month is 30 days, a year 360, as TimescaleDB
    counts them). `segment_by`: column names. `order_by`: column names, each optionally followed
    by DESC. `compress_after`: minutes, hours, days or weeks ('30 days'). Raises ValueError on
    a value TimescaleDB would not take."""
    segment = tuple(segment_by) if not isinstance(segment_by, str) else (segment_by,)
    order = tuple(order_by) if not isinstance(order_by, str) else (order_by,)
    if not segment or not order:
        raise ValueError("a hypertable declares at least one segment_by and one order_by column")
    declaration = Declaration(
        time_column=_name(time_column),
        chunk_interval=parse_interval(chunk_interval),
        segment_by=tuple(_name(c) for c in segment),
        order_by=tuple(_order(o) for o in order),
        compress_after=parse_interval(compress_after, units=POLICY_UNITS),
    )
    return {"info": {INFO_KEY: declaration}}


def _name(value: str) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError(
            f"column {value!r}: use a lower-case name of letters, digits and underscores"
        )
    return value


def _order(value: str) -> OrderBy:
    parts = str(value).split()
    if len(parts) == 2 and parts[1].upper() in {"ASC", "DESC"}:
        return OrderBy(_name(parts[0]), parts[1].upper() == "DESC")
    if len(parts) == 1:
        return OrderBy(_name(parts[0]))
    raise ValueError(f"order_by {value!r}: give a column name, optionally followed by DESC")


_TIME_TYPES = {"TIMESTAMP WITH TIME ZONE": "timestamptz", "DATE": "date"}


def declared_hypertables(tables: Mapping[str, Any]) -> tuple[HypertableSpec, ...]:
    """The hypertables the tables of a MetaData declare, checked against their columns.

    Raises ValueError naming the table and what is wrong."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    specs = []
    for name, table in sorted(tables.items()):
        declaration = table.info.get(INFO_KEY)
        if declaration is None:
            continue
        columns = table.columns
        for column in (
            declaration.time_column,
            *declaration.segment_by,
            *(o.column for o in declaration.order_by),
        ):
            if column not in columns:
                raise ValueError(f"hypertable {name}: no column {column!r} in the model")
        time_type = _TIME_TYPES.get(columns[declaration.time_column].type.compile(dialect))
        if time_type is None:
            raise ValueError(
                f"hypertable {name}: time column {declaration.time_column} must be "
                "DateTime(timezone=True) or Date"
            )
        specs.append(
            HypertableSpec(
                table=name,
                time_column=declaration.time_column,
                time_type=time_type,
                chunk_interval=declaration.chunk_interval[0],
                chunk_interval_sql=declaration.chunk_interval[1],
                segment_by=declaration.segment_by,
                order_by=declaration.order_by,
                compress_after=declaration.compress_after[0],
                compress_after_sql=declaration.compress_after[1],
            )
        )
    return tuple(specs)
