from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, SeriesFigure, natural_key, string_enum
from macroinfra.models.enums import FiscalMetric


class FiscalData(SeriesFigure, Base):
    """Government finance figures, one per series, date and fiscal metric."""

    __tablename__ = "fiscal_data"
    __table_args__ = (natural_key(__tablename__, "series_id", "observation_date", "fiscal_metric"),)

    fiscal_metric: Mapped[FiscalMetric] = mapped_column(string_enum(FiscalMetric, 32))
