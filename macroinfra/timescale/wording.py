"""Intervals as `schema show`, `doctor --strict` and autogenerate word them."""

from __future__ import annotations

from datetime import timedelta


def describe_interval(value: timedelta | None) -> str:
    if value is None:
        return "none"
    if value.seconds == 0 and value.microseconds == 0:
        return f"{value.days} day" if value.days == 1 else f"{value.days} days"
    return str(value)


def declared_interval(value: timedelta, sql: str) -> str:
    """'1 month (30 days)': as declared, and as TimescaleDB stores it."""
    days = describe_interval(value)
    return sql if sql == days else f"{sql} ({days})"
