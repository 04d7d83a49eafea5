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

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from macroinfra.migrations import note
from macroinfra.timescale import ddl
from macroinfra.timescale.edition import APACHE_FIX, APACHE_REASON, detect_edition
from macroinfra.timescale.spec import HYPERTABLES

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.create_table(
        "curves",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("curve_date", sa.Date(), nullable=False),
        sa.Column("curve_id", sa.String(length=64), nullable=False),
        sa.Column("curve_type", sa.String(length=16), nullable=False),
        sa.Column("tenor_days", sa.Integer(), nullable=False),
        sa.Column("tenor_label", sa.String(length=8), nullable=True),
        sa.Column("rate", sa.Numeric(precision=12, scale=8), nullable=False),
        sa.Column("country", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", "curve_date", name=op.f("pk_curves")),
        sa.UniqueConstraint("curve_id", "curve_date", "tenor_days", name="uq_curves_natural_key"),
    )
    op.create_table(
        "data_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("base_url", sa.String(length=512), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_data_sources_name")),
    )
    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("asset_class", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=16), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("exchange", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("ticker", name=op.f("uq_instruments_ticker")),
    )
    op.create_table(
        "market_data",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("open", sa.Numeric(precision=20, scale=8), nullable=True),
        sa.Column("high", sa.Numeric(precision=20, scale=8), nullable=True),
        sa.Column("low", sa.Numeric(precision=20, scale=8), nullable=True),
        sa.Column("close", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("adjusted_close", sa.Numeric(precision=20, scale=8), nullable=True),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_market_data_instrument_id_instruments"),
        ),
        sa.PrimaryKeyConstraint("id", "timestamp", name=op.f("pk_market_data")),
        sa.UniqueConstraint(
            "instrument_id", "timestamp", "frequency", name="uq_market_data_natural_key"
        ),
    )
    op.create_table(
        "series_metadata",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("series_code", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=16), nullable=True),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("seasonal_adjustment", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["data_sources.id"],
            name=op.f("fk_series_metadata_source_id_data_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series_metadata")),
        sa.UniqueConstraint(
            "source_id", "series_code", name=op.f("uq_series_metadata_source_id_series_code")
        ),
    )
    op.create_table(
        "vol_surfaces",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("surface_date", sa.Date(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("tenor_days", sa.Integer(), nullable=False),
        sa.Column("implied_vol", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_vol_surfaces_instrument_id_instruments"),
        ),
        sa.PrimaryKeyConstraint("id", "surface_date", name=op.f("pk_vol_surfaces")),
        sa.UniqueConstraint(
            "instrument_id",
            "surface_date",
            "delta",
            "tenor_days",
            name="uq_vol_surfaces_natural_key",
        ),
    )
    op.create_table(
        "fiscal_data",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("observation_date", sa.Date(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series_metadata.id"],
            name=op.f("fk_fiscal_data_series_id_series_metadata"),
        ),
        sa.PrimaryKeyConstraint("id", "observation_date", name=op.f("pk_fiscal_data")),
        sa.UniqueConstraint(
            "series_id", "observation_date", "fiscal_metric", name="uq_fiscal_data_natural_key"
        ),
    )
    op.create_table(
        "flow_data",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("observation_date", sa.Date(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("flow_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series_metadata.id"],
            name=op.f("fk_flow_data_series_id_series_metadata"),
        ),
        sa.PrimaryKeyConstraint("id", "observation_date", name=op.f("pk_flow_data")),
        sa.UniqueConstraint(
            "series_id", "observation_date", "flow_type", name="uq_flow_data_natural_key"
        ),
    )
    op.create_table(
        "macro_series",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("observation_date", sa.Date(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column(
            "release_time",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When this value became known",
        ),
        sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series_metadata.id"],
            name=op.f("fk_macro_series_series_id_series_metadata"),
        ),
        sa.PrimaryKeyConstraint("id", "observation_date", name=op.f("pk_macro_series")),
        sa.UniqueConstraint(
            "series_id", "observation_date", "revision_number", name="uq_macro_series_natural_key"
        ),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("signal_date", sa.Date(), nullable=False),
        sa.Column("signal_type", sa.String(length=64), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["instrument_id"], ["instruments.id"], name=op.f("fk_signals_instrument_id_instruments")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series_metadata.id"], name=op.f("fk_signals_series_id_series_metadata")
        ),
        sa.PrimaryKeyConstraint("id", "signal_date", name=op.f("pk_signals")),
        sa.UniqueConstraint(
            "signal_type",
            "signal_date",
            "instrument_id",
            name="uq_signals_natural_key",
            postgresql_nulls_not_distinct=True,
        ),
    )
    _hypertables()


def _hypertables() -> None:
    quote = op.get_context().dialect.identifier_preparer.quote
    for spec in HYPERTABLES:
        op.execute(ddl.create_hypertable(spec, quote))
    if op.get_context().as_sql:
        op.execute(ddl.compression_block(quote))  # the edition is read when the SQL runs
        return
    edition = detect_edition(op.get_bind())
    if edition.supports_compression:
        for statement in ddl.compression_statements(quote):
            op.execute(statement)
    else:
        note(f"compression not applied: {APACHE_REASON}; fix: {APACHE_FIX}")


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_table("macro_series")
    op.drop_table("flow_data")
    op.drop_table("fiscal_data")
    op.drop_table("vol_surfaces")
    op.drop_table("series_metadata")
    op.drop_table("market_data")
    op.drop_table("instruments")
    op.drop_table("data_sources")
    op.drop_table("curves")
    op.execute("DROP EXTENSION IF EXISTS timescaledb")
