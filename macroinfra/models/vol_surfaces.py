from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id, natural_key


class VolSurface(Base):
    """Implied volatility by instrument, date, delta and tenor (in days)."""

    __tablename__ = "vol_surfaces"
    __table_args__ = (
        natural_key(__tablename__, "instrument_id", "surface_date", "delta", "tenor_days"),
    )

    id: Mapped[int] = hypertable_id()
    surface_date: Mapped[date] = mapped_column(Date, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    delta: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    tenor_days: Mapped[int] = mapped_column(Integer)
    implied_vol: Mapped[Decimal] = mapped_column(Numeric(10, 6))
