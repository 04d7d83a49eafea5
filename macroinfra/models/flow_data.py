from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id


class FlowData(Base):
    """Capital flows and positioning; flow_type holds a FlowType value."""

    __tablename__ = "flow_data"
    __table_args__ = (
        UniqueConstraint(
            "series_id", "observation_date", "flow_type", name="uq_flow_data_natural_key"
        ),
    )

    id: Mapped[int] = hypertable_id()
    observation_date: Mapped[date] = mapped_column(Date, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series_metadata.id"))
    flow_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[Decimal] = mapped_column(Numeric(24, 4))
    unit: Mapped[str | None] = mapped_column(String(32))
