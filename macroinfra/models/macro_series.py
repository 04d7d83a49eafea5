from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Integer, Numeric, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, hypertable_id


class MacroSeries(Base):
    """Observations of economic series, one row per revision.

    `release_time` is when a value became known: an as-of query at time T never sees a row
    released after T. A revision is a new row with a higher revision_number, never an update.
    """

    __tablename__ = "macro_series"
    __table_args__ = (
        UniqueConstraint(
            "series_id", "observation_date", "revision_number", name="uq_macro_series_natural_key"
        ),
    )

    id: Mapped[int] = hypertable_id()
    observation_date: Mapped[date] = mapped_column(Date, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series_metadata.id"))
    value: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    release_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When this value became known"
    )
    revision_number: Mapped[int] = mapped_column(Integer, server_default="0")
