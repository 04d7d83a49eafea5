from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id


class Curve(Base):
    """Yield and swap curve points: one row per curve, date and tenor (in days)."""

    __tablename__ = "curves"
    __table_args__ = (
        UniqueConstraint("curve_id", "curve_date", "tenor_days", name="uq_curves_natural_key"),
    )

    id: Mapped[int] = hypertable_id()
    curve_date: Mapped[date] = mapped_column(Date, primary_key=True)
    curve_id: Mapped[str] = mapped_column(String(64))
    curve_type: Mapped[str] = mapped_column(String(16))
    tenor_days: Mapped[int] = mapped_column(Integer)
    tenor_label: Mapped[str | None] = mapped_column(String(8))
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 8))
    country: Mapped[str | None] = mapped_column(String(16))
