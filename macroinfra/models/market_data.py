from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id, natural_key, string_enum
from macroinfra.models.enums import Frequency


class MarketData(Base):
    """OHLCV bars. Hypertable on `timestamp`."""

    __tablename__ = "market_data"
    __table_args__ = (natural_key(__tablename__, "instrument_id", "timestamp", "frequency"),)

    id: Mapped[int] = hypertable_id()
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    frequency: Mapped[Frequency] = mapped_column(string_enum(Frequency, 16))
    open: Mapped[Decimal | None] = mapped_column(Numeric(20, 8))
    high: Mapped[Decimal | None] = mapped_column(Numeric(20, 8))
    low: Mapped[Decimal | None] = mapped_column(Numeric(20, 8))
    close: Mapped[Decimal] = mapped_column(Numeric(20, 8))
    volume: Mapped[int | None] = mapped_column(BigInteger)
    adjusted_close: Mapped[Decimal | None] = mapped_column(Numeric(20, 8))
