from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, SeriesFigure, natural_key, string_enum
from macroinfra.models.enums import FlowType


class FlowData(SeriesFigure, Base):
    """Capital flows and positioning, one per series, date and flow type."""

    __tablename__ = "flow_data"
    __table_args__ = (natural_key(__tablename__, "series_id", "observation_date", "flow_type"),)

    flow_type: Mapped[FlowType] = mapped_column(string_enum(FlowType, 32))
