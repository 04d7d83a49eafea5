from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, SeriesObservation, natural_key


class MacroSeries(SeriesObservation, Base):
    """Observations of economic series, one row per revision.

    `release_time` is when a value became known: an as-of query at time T never sees a row
    released after T. A revision is a new row with a higher revision_number, never an update.
    """

    __tablename__ = "macro_series"
    __table_args__ = (
        natural_key(__tablename__, "series_id", "observation_date", "revision_number"),
    )

    value: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    release_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="When this value became known"
    )
    revision_number: Mapped[int] = mapped_column(Integer, server_default="0")
