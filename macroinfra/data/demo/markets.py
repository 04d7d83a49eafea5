"""The demo's markets: instruments, their daily bars, weekly vol surfaces, yield curves, and the
signals computed from them (market_data, vol_surfaces, curves, signals)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from macroinfra.data.demo.calendar import (
    DT,
    ORIGIN,
    Window,
    at,
    business_days,
    months,
    ou,
    weekdays,
)
from macroinfra.data.demo.series import MACRO

TREND_ANCHOR = date(2020, 1, 1)
_TRENDS = {"equity": 0.07, "crypto": 0.25}  # log drift per year
VOL_SURFACE_INSTRUMENTS = 8

MARKET_COLUMNS = tuple(
    "instrument_id timestamp frequency open high low close volume adjusted_close".split()
)
SIGNAL_COLUMNS = tuple(
    "signal_date signal_type instrument_id series_id value confidence metadata".split()
)
CURVE_COLUMNS = tuple("curve_id curve_date curve_type tenor_days tenor_label rate country".split())
VOL_COLUMNS = ("instrument_id", "surface_date", "delta", "tenor_days", "implied_vol")


@dataclass(frozen=True)
class Instrument:
    ticker: str
    name: str
    asset_class: str
    country: str | None
    currency: str
    exchange: str | None
    price: float  # the level the price reverts to
    vol: float  # annualised
    decimals: int
    volume: int | None  # typical daily volume; None for OTC markets

    def row(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "name": self.name,
            "asset_class": self.asset_class,
            "country": self.country,
            "currency": self.currency,
            "exchange": self.exchange,
            "is_active": True,
        }


_NAMES = {
    "EURUSD": "Euro / US dollar",
    "USDJPY": "US dollar / Japanese yen",
    "SPX": "S&P 500 index",
    "TY1": "US 10-year Treasury note future",
    "XAUUSD": "Gold spot",
    "CL1": "WTI crude oil future",
    "GBPUSD": "British pound / US dollar",
    "SX5E": "Euro Stoxx 50 index",
    "NKY": "Nikkei 225 index",
    "RX1": "Euro-Bund future",
    "AUDUSD": "Australian dollar / US dollar",
    "USDCAD": "US dollar / Canadian dollar",
    "USDCHF": "US dollar / Swiss franc",
    "USDBRL": "US dollar / Brazilian real",
    "USDMXN": "US dollar / Mexican peso",
    "NDX": "Nasdaq 100 index",
    "UKX": "FTSE 100 index",
    "HG1": "Copper future",
    "CDXIG": "CDX North America Investment Grade 5Y",
    "BTCUSD": "Bitcoin / US dollar",
    "VIX": "CBOE volatility index",
}

# ticker, asset class, country, currency, exchange, level, volatility, decimals, volume
_CATALOGUE = (
    ("EURUSD", "fx", "EA", "USD", None, 1.12, 0.08, 5, None),
    ("USDJPY", "fx", "JP", "JPY", None, 115.0, 0.09, 3, None),
    ("SPX", "equity", "US", "USD", "CBOE", 3200.0, 0.18, 2, 2_500_000_000),
    ("TY1", "rates", "US", "USD", "CBOT", 128.0, 0.05, 4, 1_400_000),
    ("XAUUSD", "commodity", "GLOBAL", "USD", None, 1600.0, 0.15, 2, None),
    ("CL1", "commodity", "GLOBAL", "USD", "NYMEX", 65.0, 0.35, 2, 350_000),
    ("GBPUSD", "fx", "GB", "USD", None, 1.35, 0.09, 5, None),
    ("SX5E", "equity", "EA", "EUR", "EUREX", 3500.0, 0.20, 2, 1_000_000),
    ("NKY", "equity", "JP", "JPY", "OSE", 24000.0, 0.21, 2, 900_000),
    ("RX1", "rates", "DE", "EUR", "EUREX", 160.0, 0.05, 2, 700_000),
    ("AUDUSD", "fx", "AU", "USD", None, 0.74, 0.11, 5, None),
    ("USDCAD", "fx", "CA", "CAD", None, 1.30, 0.07, 5, None),
    ("USDCHF", "fx", "CH", "CHF", None, 0.95, 0.08, 5, None),
    ("USDBRL", "fx", "BR", "BRL", None, 4.6, 0.16, 4, None),
    ("USDMXN", "fx", "MX", "MXN", None, 19.0, 0.13, 4, None),
    ("NDX", "equity", "US", "USD", "NASDAQ", 11000.0, 0.23, 2, 1_800_000_000),
    ("UKX", "equity", "GB", "GBP", "LSE", 7000.0, 0.16, 2, 700_000_000),
    ("HG1", "commodity", "GLOBAL", "USD", "COMEX", 3.2, 0.22, 4, 90_000),
    ("CDXIG", "credit", "US", "USD", None, 65.0, 0.30, 3, None),
    ("BTCUSD", "crypto", "GLOBAL", "USD", None, 20000.0, 0.70, 2, 30_000),
    ("VIX", "volatility", "US", "USD", "CBOE", 18.0, 0.85, 2, None),
)
_INSTRUMENTS = tuple(Instrument(ticker, _NAMES[ticker], *rest) for ticker, *rest in _CATALOGUE)

_CURVES = (  # curve_id, curve_type, country, level, slope, curvature
    ("US_TSY", "nominal", "US", 3.2, -1.2, 0.4),
    ("DE_BUND", "nominal", "DE", 1.6, -0.9, 0.3),
    ("GB_GILT", "nominal", "GB", 2.9, -1.0, 0.3),
    ("US_SOFR_OIS", "ois", "US", 2.9, -1.3, 0.2),
)
_TENORS = (
    (30, "1M"),
    (91, "3M"),
    (182, "6M"),
    (365, "1Y"),
    (730, "2Y"),
    (1095, "3Y"),
    (1826, "5Y"),
    (2557, "7Y"),
    (3652, "10Y"),
    (7305, "20Y"),
    (10957, "30Y"),
)
_DELTAS = (0.10, 0.25, 0.50, 0.75, 0.90)
_VOL_TENORS = (7, 30, 91, 182, 365)


def instruments(count: int) -> list[Instrument]:
    """The first `count` of the catalogue, then invented equities beyond it."""
    chosen = list(_INSTRUMENTS[:count])
    for n in range(len(chosen) + 1, count + 1):
        rng = random.Random(f"demo-instrument:{n}")
        chosen.append(
            Instrument(
                f"DEMO{n:03d}",
                f"Demo equity {n:03d}",
                "equity",
                "US",
                "USD",
                "DEMO",
                round(rng.uniform(20, 400), 2),
                round(rng.uniform(0.2, 0.45), 2),
                2,
                rng.randrange(200_000, 20_000_000),
            )
        )
    return chosen


@dataclass
class PricePath:
    days: list[date] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, int | None]] = field(default_factory=list)


def price_path(inst: Instrument, until: date) -> PricePath:
    """Daily bars from ORIGIN: the log price reverts slowly to a trend line through the
    instrument's level at TREND_ANCHOR (equities and crypto drift up; the rest do not)."""
    rng = random.Random(f"demo-prices:{inst.ticker}")
    gauss = rng.gauss
    step = inst.vol * math.sqrt(DT)
    trend = _TRENDS.get(inst.asset_class, 0.0)
    level = math.log(inst.price)
    x = level + trend * (ORIGIN - TREND_ANCHOR).days / 365.25
    close = math.exp(x)
    path = PricePath()
    d = inst.decimals
    for day in business_days(until):
        z1, z2, z3, z4, z5 = gauss(), gauss(), gauss(), gauss(), gauss()
        open_ = close * math.exp(0.2 * step * z2)
        mean = level + trend * (day - TREND_ANCHOR).days / 365.25
        x = ou(x, mean, 0.5, inst.vol, z1, DT)
        close = math.exp(x)
        high = max(open_, close) * math.exp(0.5 * step * abs(z3))
        low = min(open_, close) * math.exp(-0.5 * step * abs(z4))
        volume = int(inst.volume * math.exp(0.35 * z5)) if inst.volume else None
        path.days.append(day)
        path.bars.append((round(open_, d), round(high, d), round(low, d), round(close, d), volume))
    return path


def market_rows(
    catalog: list[Instrument], paths: dict[str, PricePath], ids: dict[str, int], window: Window
) -> Iterator[tuple[Any, ...]]:
    for inst in catalog:
        path = paths[inst.ticker]
        iid = ids[inst.ticker]
        for day, (o, h, lo, c, v) in zip(path.days, path.bars, strict=True):
            if day >= window.start:
                yield (iid, at(day, 21), "daily", o, h, lo, c, v, c)


def signal_rows(
    catalog: list[Instrument],
    paths: dict[str, PricePath],
    ids: dict[str, int],
    series_ids: dict[str, int],
    window: Window,
) -> Iterator[tuple[Any, ...]]:
    lookback = 252
    meta = {"model": "demo", "lookback_days": lookback}
    for inst in catalog:  # 12-month momentum, as a z-score of the log return
        path = paths[inst.ticker]
        iid = ids[inst.ticker]
        closes = [b[3] for b in path.bars]
        scale = inst.vol
        for n in range(lookback, len(closes)):
            day = path.days[n]
            if day < window.start:
                continue
            z = math.log(closes[n] / closes[n - lookback]) / scale
            confidence = round(min(0.99, 0.5 + abs(z) / 6), 4)
            yield (day, "momentum_12m", iid, None, round(z, 6), confidence, meta)
    rng = random.Random("demo-signal:risk_appetite")  # market-wide: no instrument, no series
    x = 0.0
    for day in business_days(window.end):
        x = ou(x, 0.0, 0.02, 0.25, rng.gauss())
        if day >= window.start:
            yield (day, "risk_appetite", None, None, round(x, 6), None, {"model": "demo"})
    cpi = series_ids["US_CPI"]  # tied to a series: the CPI surprise on its release day
    rng = random.Random("demo-signal:inflation_surprise")
    releases = MACRO[0].releases
    assert releases is not None
    for period in months(window.end):
        surprise = rng.gauss() * 0.1
        day = releases.first(period).date()
        if window.start <= day <= window.end:
            meta_cpi = {"model": "demo", "period": period.isoformat()}
            yield (day, "inflation_surprise", None, cpi, round(surprise, 6), 0.8, meta_cpi)


def curve_rows(window: Window) -> Iterator[tuple[Any, ...]]:
    """Nelson-Siegel curves whose level, slope and curvature revert to their means."""
    lam = 1.8
    loadings = []
    for days, label in _TENORS:
        t = days / 365 / lam
        slope = (1 - math.exp(-t)) / t
        loadings.append((days, label, slope, slope - math.exp(-t)))
    for curve_id, curve_type, country, level, slope, curvature in _CURVES:
        rng = random.Random(f"demo-curve:{curve_id}")
        b0, b1, b2 = level, slope, curvature
        for day in business_days(window.end):
            b0 = ou(b0, level, 0.15, 0.9, rng.gauss(), DT)
            b1 = ou(b1, slope, 0.4, 1.0, rng.gauss(), DT)
            b2 = ou(b2, curvature, 0.6, 1.2, rng.gauss(), DT)
            if day < window.start:
                continue
            for days, label, l1, l2 in loadings:
                rate = b0 + b1 * l1 + b2 * l2
                yield (curve_id, day, curve_type, days, label, round(rate, 5), country)


def vol_rows(
    catalog: list[Instrument], ids: dict[str, int], window: Window
) -> Iterator[tuple[Any, ...]]:
    """Weekly (Friday) surfaces: an ATM level with a skew, a smile and a term structure."""
    week = 5 / 261
    for inst in catalog:
        rng = random.Random(f"demo-vol:{inst.ticker}")
        iid = ids[inst.ticker]
        level = math.log(inst.vol)
        log_atm, skew = level, -0.25 if inst.asset_class == "equity" else 0.05
        base_skew = skew
        for day in weekdays(window.end, 4):  # the log of ATM vol reverts fast: vol clusters
            log_atm = ou(log_atm, level, 4.0, 0.8, rng.gauss(), week)
            atm = math.exp(log_atm)
            skew = ou(skew, base_skew, 3.0, 0.2, rng.gauss(), week)
            if day < window.start:
                continue
            for tenor in _VOL_TENORS:
                term = (tenor / 30) ** (0.04 if atm < inst.vol else -0.04)
                for delta in _DELTAS:
                    m = delta - 0.5
                    vol = atm * term * (1 - skew * m + 0.6 * m * m)
                    yield (iid, day, delta, tenor, round(max(vol, 0.01), 6))
