from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, created_at, string_enum, updated_at
from macroinfra.models.enums import Country, Frequency


class SeriesMetadata(Base):
    """One economic series of one source."""

    __tablename__ = "series_metadata"
    __table_args__ = (UniqueConstraint("source_id", "series_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id"))
    series_code: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(512))
    frequency: Mapped[Frequency] = mapped_column(string_enum(Frequency, 16))
    country: Mapped[Country | None] = mapped_column(string_enum(Country, 16))
    unit: Mapped[str | None] = mapped_column(String(64))
    seasonal_adjustment: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
