from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id, natural_key, string_enum
from macroinfra.models.enums import Country, CurveType


class Curve(Base):
    """Yield and swap curve points: one row per curve, date and tenor (in days)."""

    __tablename__ = "curves"
    __table_args__ = (natural_key(__tablename__, "curve_id", "curve_date", "tenor_days"),)

    id: Mapped[int] = hypertable_id()
    curve_date: Mapped[date] = mapped_column(Date, primary_key=True)
    curve_id: Mapped[str] = mapped_column(String(64))
    curve_type: Mapped[CurveType] = mapped_column(string_enum(CurveType, 16))
    tenor_days: Mapped[int] = mapped_column(Integer)
    tenor_label: Mapped[str | None] = mapped_column(String(8))
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 8))
    country: Mapped[Country | None] = mapped_column(string_enum(Country, 16))
