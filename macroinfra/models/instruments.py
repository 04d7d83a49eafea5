from datetime import datetime

from sqlalchemy import Boolean, String, true
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models.base import Base, created_at, string_enum, updated_at
from macroinfra.models.enums import AssetClass, Country


class Instrument(Base):
    """A tradable instrument."""

    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticker: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    asset_class: Mapped[AssetClass] = mapped_column(string_enum(AssetClass, 32))
    country: Mapped[Country | None] = mapped_column(string_enum(Country, 16))
    currency: Mapped[str | None] = mapped_column(String(3))
    exchange: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
