"""initial schema: TimescaleDB, 3 metadata tables, 7 hypertables, compression

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Hypertable parameters come from macroinfra.timescale.spec (the declared spec). Compression is
applied only where the server's license allows it (the Community edition); on the Apache
edition the tables and hypertables are still created and the migration says why compression
was not applied. `macroinfra migrate` applies it later, once the edition allows it.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from macroinfra.migrations import note
from macroinfra.timescale import ddl
from macroinfra.timescale.compression import apply_compression
from macroinfra.timescale.spec import BY_TABLE, HYPERTABLES

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Dropped in this order: each table before the tables it refers to.
TABLES = (
    "signals",
    "macro_series",
    "flow_data",
    "fiscal_data",
    "vol_surfaces",
    "series_metadata",
    "market_data",
    "instruments",
    "data_sources",
    "curves",
)


def _column(name: str, type_: Any, *args: Any, null: bool = False, **kw: Any) -> sa.Column:
    return sa.Column(name, type_, *args, nullable=null, **kw)


def _strings(*, null: bool = False, **lengths: int) -> list[sa.Column]:
    """VARCHAR columns, in the order given: name=length."""
    return [_column(name, sa.String(length=n), null=null) for name, n in lengths.items()]


def _now(*names: str) -> list[sa.Column]:
    """Timestamps the database fills: created_at, updated_at."""
    now = sa.text("now()")
    return [_column(name, sa.DateTime(timezone=True), server_default=now) for name in names]


def _ref(table: str, column: str, referred: str, *, null: bool = False) -> sa.Column:
    """An integer column referring to `referred`.id, its constraint named by the convention."""
    fk = sa.ForeignKey(f"{referred}.id", name=op.f(f"fk_{table}_{column}_{referred}"))
    return _column(column, sa.Integer(), fk, null=null)


def _metadata_table(table: str, *columns: Any, unique: tuple[str, ...]) -> None:
    op.create_table(
        table,
        _column("id", sa.Integer()),
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(*unique, name=op.f(f"uq_{table}_{'_'.join(unique)}")),
    )


def _hypertable(table: str, *columns: Any, key: tuple[str, ...], **key_options: Any) -> None:
    """id and the declared time column, then `columns`; the primary key (id, time column) and
    the natural key `key` (which names the time column too)."""
    time_column = BY_TABLE[table].time_column
    timestamptz = BY_TABLE[table].time_type == "timestamptz"
    op.create_table(
        table,
        _column("id", sa.BigInteger(), sa.Identity(always=False)),
        _column(time_column, sa.DateTime(timezone=True) if timestamptz else sa.Date()),
        *columns,
        sa.PrimaryKeyConstraint("id", time_column, name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(*key, name=f"uq_{table}_natural_key", **key_options),
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    _hypertable(
        "curves",
        *_strings(curve_id=64, curve_type=16),
        _column("tenor_days", sa.Integer()),
        *_strings(tenor_label=8, null=True),
        _column("rate", sa.Numeric(precision=12, scale=8)),
        *_strings(country=16, null=True),
        key=("curve_id", "curve_date", "tenor_days"),
    )
    _metadata_table(
        "data_sources",
        *_strings(name=64),
        _column("description", sa.Text(), null=True),
        *_strings(base_url=512, null=True),
        *_now("created_at"),
        unique=("name",),
    )
    _metadata_table(
        "instruments",
        *_strings(ticker=64, name=256, asset_class=32),
        *_strings(country=16, currency=3, exchange=32, null=True),
        _column("is_active", sa.Boolean(), server_default=sa.text("true")),
        *_now("created_at", "updated_at"),
        unique=("ticker",),
    )
    price = sa.Numeric(precision=20, scale=8)
    _hypertable(
        "market_data",
        _ref("market_data", "instrument_id", "instruments"),
        *_strings(frequency=16),
        *(_column(name, price, null=True) for name in ("open", "high", "low")),
        _column("close", price),
        _column("volume", sa.BigInteger(), null=True),
        _column("adjusted_close", price, null=True),
        key=("instrument_id", "timestamp", "frequency"),
    )
    _metadata_table(
        "series_metadata",
        _ref("series_metadata", "source_id", "data_sources"),
        *_strings(series_code=128, name=512, frequency=16),
        *_strings(country=16, unit=64, seasonal_adjustment=32, null=True),
        _column("description", sa.Text(), null=True),
        *_now("created_at", "updated_at"),
        unique=("source_id", "series_code"),
    )
    _hypertable(
        "vol_surfaces",
        _ref("vol_surfaces", "instrument_id", "instruments"),
        _column("delta", sa.Numeric(precision=6, scale=4)),
        _column("tenor_days", sa.Integer()),
        _column("implied_vol", sa.Numeric(precision=10, scale=6)),
        key=("instrument_id", "surface_date", "delta", "tenor_days"),
    )
    for table, kind in (("fiscal_data", "fiscal_metric"), ("flow_data", "flow_type")):
        _hypertable(
            table,
            _ref(table, "series_id", "series_metadata"),
            *_strings(**{kind: 32}),
            _column("value", sa.Numeric(precision=24, scale=4)),
            *_strings(unit=32, null=True),
            key=("series_id", "observation_date", kind),
        )
    _hypertable(
        "macro_series",
        _ref("macro_series", "series_id", "series_metadata"),
        _column("value", sa.Numeric(precision=24, scale=8), null=True),
        _column("release_time", sa.DateTime(timezone=True), comment="When this value became known"),
        _column("revision_number", sa.Integer(), server_default="0"),
        key=("series_id", "observation_date", "revision_number"),
    )
    _hypertable(
        "signals",
        *_strings(signal_type=64),
        _ref("signals", "instrument_id", "instruments", null=True),
        _ref("signals", "series_id", "series_metadata", null=True),
        _column("value", sa.Numeric(precision=24, scale=8)),
        _column("confidence", sa.Numeric(precision=5, scale=4), null=True),
        _column("metadata", postgresql.JSONB(astext_type=sa.Text()), null=True),
        key=("signal_type", "signal_date", "instrument_id"),
        postgresql_nulls_not_distinct=True,
    )
    _hypertables()


def _hypertables() -> None:
    quote = op.get_context().dialect.identifier_preparer.quote
    for spec in HYPERTABLES:
        op.execute(ddl.create_hypertable(spec, quote))
    if op.get_context().as_sql:
        op.execute(ddl.compression_block(quote))  # the edition is read when the SQL runs
        return
    for message in apply_compression(op.get_bind()):
        note(message)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.execute("DROP EXTENSION IF EXISTS timescaledb")
