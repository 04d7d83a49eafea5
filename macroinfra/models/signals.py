from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id, natural_key


class Signal(Base):
    """Model outputs. instrument_id is NULL for market-wide signals; the natural key still
    rejects a second row for the same (signal_type, signal_date) then (NULLS NOT DISTINCT)."""

    __tablename__ = "signals"
    __table_args__ = (
        natural_key(
            __tablename__,
            "signal_type",
            "signal_date",
            "instrument_id",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = hypertable_id()
    signal_date: Mapped[date] = mapped_column(Date, primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(64))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series_metadata.id"))
    value: Mapped[Decimal] = mapped_column(Numeric(24, 8))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    signal_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
