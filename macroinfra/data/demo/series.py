"""The demo's economic series: what each is (series_metadata), how its value moves, and for the
macro series when each value is released and revised (macro_series); flows and fiscal figures
have one value a period, no revisions (flow_data, fiscal_data).

The catalogue is four small tables keyed by series code, one line a series: names, metadata,
paths, release schedules. `SERIES` joins them, in loading order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from macroinfra.data.demo.calendar import (
    Release,
    Window,
    at,
    days_after_month,
    first_friday_after,
    months,
    ou,
    quarter_release,
    weekdays,
)


@dataclass(frozen=True)
class Path:
    """How a series' underlying value moves, one step a period, from `start` at ORIGIN."""

    model: str  # level: grows by about `mean` a period | rate: reverts to `mean` | change
    mean: float
    sd: float
    decimals: int
    start: float = 0.0


@dataclass(frozen=True)
class Releases:
    """When a macro_series value is first published, and when and how much it is revised."""

    first: Release
    revisions: tuple[int, ...] = ()  # days after the first release
    benchmark: tuple[int, int, int] | None = None  # annual revision: (month, day, years revised)
    sd: float = 0.0  # size of the error of the first print


@dataclass(frozen=True)
class Series:
    code: str
    name: str
    table: str  # macro_series, flow_data or fiscal_data
    kind: str | None  # the flow_type or fiscal_metric
    frequency: str  # monthly | quarterly | weekly
    country: str
    unit: str
    seasonal_adjustment: str | None
    path: Path
    releases: Releases | None  # macro_series only
    weekday: int = 2  # weekly series: the day of the week

    def metadata_row(self, source_id: int) -> dict[str, Any]:
        return {
            "source_id": source_id,
            "series_code": self.code,
            "name": self.name,
            "frequency": self.frequency,
            "country": self.country,
            "unit": self.unit,
            "seasonal_adjustment": self.seasonal_adjustment,
            "description": f"Synthetic demo series ({self.table})",
        }


_NAMES = {
    "US_CPI": "US consumer price index, all urban consumers",
    "US_CORE_PCE": "US core PCE price index",
    "US_NFP": "US nonfarm payrolls, monthly change",
    "US_UNRATE": "US unemployment rate",
    "US_RETAIL_SALES": "US retail sales, monthly change",
    "US_INDPRO": "US industrial production index",
    "US_GDP": "US real GDP growth, annualised",
    "US_FEDFUNDS": "US effective federal funds rate, monthly average",
    "EA_HICP": "Euro area HICP inflation, year on year",
    "GB_CPI": "UK CPI inflation, year on year",
    "JP_CPI": "Japan core CPI inflation, year on year",
    "CN_PMI": "China manufacturing PMI",
    "US_EQUITY_ETF_FLOWS": "US equity ETF net flows",
    "EM_BOND_FUND_FLOWS": "EM bond fund net flows",
    "CFTC_EUR_NET_SPEC": "CFTC euro futures, speculative net position",
    "US_TIC_PORTFOLIO_DEBT": "Foreign net purchases of US long-term debt",
    "CN_FDI": "China inward foreign direct investment",
    "US_FED_DEFICIT": "US federal deficit, monthly",
    "US_PUBLIC_DEBT": "US total public debt outstanding",
    "US_TSY_ISSUANCE": "US Treasury gross coupon issuance",
    "US_FED_RECEIPTS": "US federal receipts, monthly",
    "US_FED_OUTLAYS": "US federal outlays, monthly",
    "US_TGA_BALANCE": "US Treasury General Account balance",
}

# code, table, flow type or fiscal metric, frequency, country, unit, seasonal adjustment
_METADATA = (
    ("US_CPI", "macro_series", None, "monthly", "US", "index 1982-84=100", "SA"),
    ("US_CORE_PCE", "macro_series", None, "monthly", "US", "index 2017=100", "SA"),
    ("US_NFP", "macro_series", None, "monthly", "US", "thousands", "SA"),
    ("US_UNRATE", "macro_series", None, "monthly", "US", "percent", "SA"),
    ("US_RETAIL_SALES", "macro_series", None, "monthly", "US", "percent", "SA"),
    ("US_INDPRO", "macro_series", None, "monthly", "US", "index 2017=100", "SA"),
    ("US_GDP", "macro_series", None, "quarterly", "US", "percent", "SAAR"),
    ("US_FEDFUNDS", "macro_series", None, "monthly", "US", "percent", None),
    ("EA_HICP", "macro_series", None, "monthly", "EA", "percent", "NSA"),
    ("GB_CPI", "macro_series", None, "monthly", "GB", "percent", "NSA"),
    ("JP_CPI", "macro_series", None, "monthly", "JP", "percent", "NSA"),
    ("CN_PMI", "macro_series", None, "monthly", "CN", "index", "SA"),
    ("US_EQUITY_ETF_FLOWS", "flow_data", "etf", "weekly", "US", "USD mn", None),
    ("EM_BOND_FUND_FLOWS", "flow_data", "fund", "weekly", "GLOBAL", "USD mn", None),
    ("CFTC_EUR_NET_SPEC", "flow_data", "cftc_positioning", "weekly", "US", "contracts", None),
    ("US_TIC_PORTFOLIO_DEBT", "flow_data", "portfolio_debt", "monthly", "US", "USD bn", None),
    ("CN_FDI", "flow_data", "fdi", "monthly", "CN", "USD bn", None),
    ("US_FED_DEFICIT", "fiscal_data", "deficit", "monthly", "US", "USD bn", None),
    ("US_PUBLIC_DEBT", "fiscal_data", "debt", "monthly", "US", "USD bn", None),
    ("US_TSY_ISSUANCE", "fiscal_data", "issuance", "monthly", "US", "USD bn", None),
    ("US_FED_RECEIPTS", "fiscal_data", "revenue", "monthly", "US", "USD bn", None),
    ("US_FED_OUTLAYS", "fiscal_data", "spending", "monthly", "US", "USD bn", None),
    ("US_TGA_BALANCE", "fiscal_data", "tga_balance", "weekly", "US", "USD bn", None),
)

_PATHS = {
    "US_CPI": Path("level", 0.0021, 0.0022, 3, 128.0),
    "US_CORE_PCE": Path("level", 0.0018, 0.0012, 3, 58.0),
    "US_NFP": Path("change", 140.0, 110.0, 0),
    "US_UNRATE": Path("rate", 5.5, 0.14, 1, 5.4),
    "US_RETAIL_SALES": Path("change", 0.35, 0.8, 1),
    "US_INDPRO": Path("level", 0.0015, 0.006, 2, 60.0),
    "US_GDP": Path("change", 2.3, 2.0, 1),
    "US_FEDFUNDS": Path("rate", 3.0, 0.25, 2, 8.0),
    "EA_HICP": Path("rate", 2.0, 0.25, 1, 2.5),
    "GB_CPI": Path("rate", 2.2, 0.3, 1, 3.5),
    "JP_CPI": Path("rate", 0.5, 0.2, 1, 1.5),
    "CN_PMI": Path("rate", 50.5, 0.9, 1, 51.0),
    "US_EQUITY_ETF_FLOWS": Path("change", 2000.0, 6000.0, 1),
    "EM_BOND_FUND_FLOWS": Path("change", 100.0, 1500.0, 1),
    "CFTC_EUR_NET_SPEC": Path("rate", 40000.0, 9000.0, 0, 20000.0),
    "US_TIC_PORTFOLIO_DEBT": Path("change", 40.0, 60.0, 1),
    "CN_FDI": Path("rate", 12.0, 1.5, 2, 10.0),
    "US_FED_DEFICIT": Path("change", 110.0, 90.0, 1),
    "US_PUBLIC_DEBT": Path("level", 0.006, 0.004, 1, 3200.0),
    "US_TSY_ISSUANCE": Path("rate", 380.0, 45.0, 1, 150.0),
    "US_FED_RECEIPTS": Path("level", 0.004, 0.05, 1, 85.0),
    "US_FED_OUTLAYS": Path("level", 0.0045, 0.04, 1, 105.0),
    "US_TGA_BALANCE": Path("rate", 500.0, 60.0, 1, 40.0),
}

_RELEASES = {  # macro_series only
    "US_CPI": Releases(days_after_month(12, 12, 30), (), (2, 10, 5), 0.0008),
    "US_CORE_PCE": Releases(days_after_month(29, 12, 30), (30, 60), (7, 28, 3), 0.0006),
    "US_NFP": Releases(first_friday_after(12, 30), (28, 56), (2, 5, 2), 45.0),
    "US_UNRATE": Releases(first_friday_after(12, 30), (), (1, 8, 5), 0.05),
    "US_RETAIL_SALES": Releases(days_after_month(15, 12, 30), (30, 60), (4, 25, 3), 0.3),
    "US_INDPRO": Releases(days_after_month(16, 13, 15), (30, 60, 90), (3, 28, 3), 0.003),
    "US_GDP": Releases(quarter_release(28), (30, 60), (9, 26, 3), 0.6),
    "US_FEDFUNDS": Releases(days_after_month(1, 15)),
    "EA_HICP": Releases(days_after_month(0, 9), (17,), None, 0.1),
    "GB_CPI": Releases(days_after_month(17, 6)),
    "JP_CPI": Releases(days_after_month(19, 23, 30)),
    "CN_PMI": Releases(days_after_month(0, 1)),
}

_WEEKDAYS = {"CFTC_EUR_NET_SPEC": 1}  # positions as of Tuesday; other weekly series Wednesday

SERIES = tuple(
    Series(code, _NAMES[code], *rest, _PATHS[code], _RELEASES.get(code), _WEEKDAYS.get(code, 2))
    for code, *rest in _METADATA
)
MACRO = tuple(s for s in SERIES if s.table == "macro_series")
FLOWS = tuple(s for s in SERIES if s.table == "flow_data")
FISCAL = tuple(s for s in SERIES if s.table == "fiscal_data")
assert _NAMES.keys() == _PATHS.keys() == {s.code for s in SERIES} >= _RELEASES.keys()

MACRO_COLUMNS = ("series_id", "observation_date", "value", "release_time", "revision_number")
FLOW_COLUMNS = ("series_id", "observation_date", "flow_type", "value", "unit")
FISCAL_COLUMNS = ("series_id", "observation_date", "fiscal_metric", "value", "unit")


def _periods(series: Series, until: date) -> Iterator[date]:
    if series.frequency == "quarterly":
        return months(until, 3)
    if series.frequency == "weekly":
        return weekdays(until, series.weekday)
    return months(until)


def true_values(series: Series, until: date) -> Iterator[tuple[date, float]]:
    """The series' underlying path, one value per period from ORIGIN."""
    rng = random.Random(f"demo-series:{series.code}")
    path = series.path
    x = path.start
    for period in _periods(series, until):
        z = rng.gauss()
        if path.model == "level":
            x *= math.exp(path.mean + path.sd * z)
        elif path.model == "rate":
            x = ou(x, path.mean, 0.05, path.sd, z)
        else:
            x = path.mean + path.sd * z
        yield period, x


def _release_times(releases: Releases, period: date, first: datetime) -> list[datetime]:
    """The first release, the scheduled revisions after it, and the annual benchmark
    revisions that revise this period years later; in release order, one per instant."""
    times = {first}
    for days in releases.revisions:
        times.add(first + timedelta(days=days))
    if releases.benchmark is not None:
        month, day, years = releases.benchmark
        for year in range(period.year + 1, period.year + years + 1):
            instant = at(date(year, month, day), first.hour, first.minute)
            if instant > first:
                times.add(instant)
    return sorted(times)


def macro_rows(series_ids: dict[str, int], window: Window) -> Iterator[tuple[Any, ...]]:
    """Every revision of every macro series released by the end of the window."""
    cutoff = window.cutoff
    for series in MACRO:
        releases = series.releases
        assert releases is not None
        sid = series_ids[series.code]
        for period, value in true_values(series, window.end):
            first = releases.first(period)
            if period < window.start or first >= cutoff:
                continue
            times = _release_times(releases, period, first)
            noise = random.Random(f"demo-revisions:{series.code}:{period.isoformat()}")
            shocks = [noise.gauss() for _ in times]
            last = len(times) - 1
            for revision, (released, z) in enumerate(zip(times, shocks, strict=True)):
                if released >= cutoff:
                    break
                # Early prints are noisy; each revision moves closer to the final value.
                error = 0.0 if revision == last and revision > 0 else z * releases.sd
                error *= 0.6**revision
                if series.path.model == "level":
                    estimate = value * (1 + error)
                else:
                    estimate = value + error
                yield (sid, period, round(estimate, series.path.decimals), released, revision)


def kind_rows(
    catalog: tuple[Series, ...], series_ids: dict[str, int], window: Window
) -> Iterator[tuple[Any, ...]]:
    """Flow or fiscal figures: one value a period, no revisions."""
    for series in catalog:
        sid = series_ids[series.code]
        for period, value in true_values(series, window.end):
            if period >= window.start:
                yield (sid, period, series.kind, round(value, series.path.decimals), series.unit)
