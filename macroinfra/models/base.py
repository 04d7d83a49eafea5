"""Declarative base with a naming convention, so every constraint has a predictable name, and
the shapes the tables share: timestamps, a hypertable's id and natural key, enum columns, and
the columns of a series observation."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def updated_at() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


def hypertable_id(**kw: Any) -> Mapped[int]:
    """The id half of a hypertable's composite primary key (id, time column)."""
    return mapped_column(BigInteger, Identity(), primary_key=True, **kw)


def natural_key(table: str, *columns: str, **kw: Any) -> UniqueConstraint:
    """A hypertable's natural key, `uq_<table>_natural_key`: what ON CONFLICT names. It
    includes the time column, as TimescaleDB requires of a unique constraint."""
    return UniqueConstraint(*columns, name=f"uq_{table}_natural_key", **kw)


def string_enum(enum: type[StrEnum], length: int) -> Enum:
    """A StrEnum stored as its value in VARCHAR(length): no native enum type and no CHECK
    constraint, so a new member needs no migration. Rows read back as members."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class SeriesObservation:
    """Mixin: a hypertable of one series' values by observation date. Its columns come first."""

    id: Mapped[int] = hypertable_id(sort_order=-3)
    observation_date: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-2)
    series_id: Mapped[int] = mapped_column(ForeignKey("series_metadata.id"), sort_order=-1)


class SeriesFigure(SeriesObservation):
    """Mixin: one value per period, of one kind (flow_data, fiscal_data): after the kind column
    the subclass declares, the value and its unit."""

    value: Mapped[Decimal] = mapped_column(Numeric(24, 4), sort_order=1)
    unit: Mapped[str | None] = mapped_column(String(32), sort_order=1)
