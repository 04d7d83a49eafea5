from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id


class FiscalData(Base):
    """Government finance figures; fiscal_metric holds a FiscalMetric value."""

    __tablename__ = "fiscal_data"
    __table_args__ = (
        UniqueConstraint(
            "series_id", "observation_date", "fiscal_metric", name="uq_fiscal_data_natural_key"
        ),
    )

    id: Mapped[int] = hypertable_id()
    observation_date: Mapped[date] = mapped_column(Date, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series_metadata.id"))
    fiscal_metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[Decimal] = mapped_column(Numeric(24, 4))
    unit: Mapped[str | None] = mapped_column(String(32))
