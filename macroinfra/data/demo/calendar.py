"""The demo data's clock: every path starts at ORIGIN and steps by business day, week, month or
quarter; release schedules turn a period into the instant its first value is published."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

ORIGIN = date(1990, 1, 1)
DT = 1 / 261  # one business day, in years

Release = Callable[[date], datetime]  # period start -> the instant of its first release


@dataclass(frozen=True)
class Window:
    """The days whose rows are loaded; paths still run from ORIGIN."""

    start: date
    end: date

    @property
    def cutoff(self) -> datetime:
        """Releases after the end of the last day have not happened yet."""
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC) + timedelta(days=1)


def years_before(day: date, years: int) -> date:
    return date(day.year - years, day.month, min(day.day, 28))


def business_days(until: date) -> Iterator[date]:
    day = ORIGIN
    one = timedelta(days=1)
    while day <= until:
        if day.weekday() < 5:
            yield day
        day += one


def weekdays(until: date, weekday: int) -> Iterator[date]:
    day = ORIGIN + timedelta(days=(weekday - ORIGIN.weekday()) % 7)
    while day <= until:
        yield day
        day += timedelta(days=7)


def months(until: date, step: int = 1) -> Iterator[date]:
    year, month = ORIGIN.year, ORIGIN.month
    while (day := date(year, month, 1)) <= until:
        yield day
        year, month = divmod(year * 12 + month - 1 + step, 12)
        month += 1


def add_months(day: date, count: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + count, 12)
    return date(year, month + 1, min(day.day, 28))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def first_weekday(year: int, month: int, weekday: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def ou(x: float, mean: float, kappa: float, sd: float, z: float, dt: float = 1.0) -> float:
    """One Ornstein-Uhlenbeck step: pulled towards `mean` at rate kappa, shocked by sd."""
    return x + kappa * (mean - x) * dt + sd * math.sqrt(dt) * z


# -- release schedules -----------------------------------------------------------------------


def month_end(period: date) -> date:
    return add_months(period.replace(day=1), 1) - timedelta(days=1)


def days_after_month(days: int, hour: int, minute: int = 0) -> Release:
    return lambda p: at(month_end(p) + timedelta(days=days), hour, minute)


def first_friday_after(hour: int, minute: int) -> Release:
    def release(period: date) -> datetime:
        after = add_months(period.replace(day=1), 1)
        return at(first_weekday(after.year, after.month, 4), hour, minute)

    return release


def quarter_release(days: int) -> Release:
    return lambda p: at(add_months(p, 3) + timedelta(days=days - 1), 12, 30)
