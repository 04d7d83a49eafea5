"""The declared hypertable spec: the one table of truth.

The migration creates what this says, `schema show` compares the database with it, and
`doctor --strict` fails on any difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property


@dataclass(frozen=True)
class OrderBy:
    """One column of a compression order: as declared here, and as inspect reads it back."""

    column: str
    descending: bool = False
    nulls_first: bool | None = None  # None: not stated (PostgreSQL's default for the direction)

    def sql(self) -> str:
        return f"{self.column} DESC" if self.descending else self.column


@dataclass(frozen=True)
class HypertableSpec:
    table: str
    time_column: str
    time_type: str  # "timestamptz" or "date", as PostgreSQL's format_type() spells it
    chunk_interval: timedelta
    chunk_interval_sql: str  # as create_hypertable is given it
    segment_by: tuple[str, ...]
    order_by: tuple[OrderBy, ...]
    compress_after: timedelta
    compress_after_sql: str

    @property
    def order_by_sql(self) -> str:
        return ", ".join(o.sql() for o in self.order_by)

    @property
    def segment_by_sql(self) -> str:
        return ", ".join(self.segment_by)


def _spec(
    table: str,
    time_column: str,
    time_type: str,
    chunk: tuple[timedelta, str],
    segment_by: str,
    order_by: tuple[OrderBy, ...],
    compress_after_days: int,
) -> HypertableSpec:
    return HypertableSpec(
        table=table,
        time_column=time_column,
        time_type=time_type,
        chunk_interval=chunk[0],
        chunk_interval_sql=chunk[1],
        segment_by=(segment_by,),
        order_by=order_by,
        compress_after=timedelta(days=compress_after_days),
        compress_after_sql=f"{compress_after_days} days",
    )


# TimescaleDB stores month intervals as 30 days (so 1 year = 12 * 30 days = 360 days).
ONE_MONTH = (timedelta(days=30), "1 month")
THREE_MONTHS = (timedelta(days=90), "3 months")
ONE_YEAR = (timedelta(days=360), "1 year")

_NEWEST_OBSERVATION_FIRST = OrderBy("observation_date", True)

HYPERTABLES: tuple[HypertableSpec, ...] = (
    _spec(
        "market_data",
        "timestamp",
        "timestamptz",
        ONE_MONTH,
        "instrument_id",
        (OrderBy("timestamp", True),),
        30,
    ),
    _spec(
        "macro_series",
        "observation_date",
        "date",
        ONE_YEAR,
        "series_id",
        (_NEWEST_OBSERVATION_FIRST, OrderBy("revision_number", True)),
        180,
    ),
    _spec(
        "curves",
        "curve_date",
        "date",
        THREE_MONTHS,
        "curve_id",
        (OrderBy("curve_date", True), OrderBy("tenor_days")),
        90,
    ),
    *(  # flow and fiscal figures: one value a period, kept alike
        _spec(
            table,
            "observation_date",
            "date",
            ONE_YEAR,
            "series_id",
            (_NEWEST_OBSERVATION_FIRST,),
            180,
        )
        for table in ("flow_data", "fiscal_data")
    ),
    _spec(
        "vol_surfaces",
        "surface_date",
        "date",
        ONE_YEAR,
        "instrument_id",
        (OrderBy("surface_date", True),),
        90,
    ),
    _spec(
        "signals",
        "signal_date",
        "date",
        ONE_YEAR,
        "signal_type",
        (OrderBy("signal_date", True),),
        90,
    ),
)

METADATA_TABLES: tuple[str, ...] = ("data_sources", "instruments", "series_metadata")

BY_TABLE: dict[str, HypertableSpec] = {h.table: h for h in HYPERTABLES}

ALL_TABLES: tuple[str, ...] = METADATA_TABLES + tuple(BY_TABLE)

# -- intervals as people write them, and the shipped spec with a team's declarations ---------

# TimescaleDB turns an interval into a chunk width with a month of 30 days (a year: 12 months);
# PostgreSQL reads a policy's interval back with a year of 365 days, so policy delays are
# declared in units that mean the same to both.
_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 360}
POLICY_UNITS = ("minute", "hour", "day", "week")


def parse_interval(value: str | timedelta, *, units: tuple[str, ...] = tuple(_UNIT_DAYS)):
    """An interval such as '1 month' or '30 days' (or a timedelta), as (timedelta, SQL text).

    Raises ValueError with a line for people on anything else."""
    import re

    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"interval must be positive, not {value}")
        seconds = int(value.total_seconds())
        if value.microseconds or seconds % 60:
            raise ValueError(f"interval must be whole minutes, not {value}")
        if seconds % 86400 == 0:
            return value, f"{seconds // 86400} days"
        return value, f"{seconds // 60} minutes"
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d{1,6})\s*([a-z]+?)s?", text)
    if match is None or match.group(2) not in units or int(match.group(1)) == 0:
        raise ValueError(
            f"interval {value!r} is not '<count> <unit>' with a count above 0 and a unit of "
            f"{', '.join(units)}"
        )
    count, unit = int(match.group(1)), match.group(2)
    days = count * _UNIT_DAYS[unit]
    return timedelta(days=days), f"{count} {unit}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class Declared:
    """Every declared table: the shipped spec, and the hypertables a team's models declare."""

    hypertables: tuple[HypertableSpec, ...] = HYPERTABLES
    metadata_tables: tuple[str, ...] = METADATA_TABLES
    models: frozenset[str] | None = None  # the tables of the models compared (None: all)

    @cached_property
    def by_table(self) -> dict[str, HypertableSpec]:
        """The hypertables by table name (built once: the dataclass is frozen)."""
        return {h.table: h for h in self.hypertables}

    def with_team(
        self, specs: tuple[HypertableSpec, ...], models: frozenset[str] | None = None
    ) -> Declared:
        return Declared(self.hypertables + specs, self.metadata_tables, models)


SHIPPED = Declared()
