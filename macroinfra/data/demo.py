"""A synthetic but realistic demo data set, loaded through the bulk loader into all 7
hypertables: daily bars, monthly and quarterly macro series with revisions, yield curves,
flows, fiscal data, weekly vol surfaces and signals.

Every number is invented. Every value is a function of its series and its date alone: each
path is generated from a fixed origin (ORIGIN) with its own seeded generator, whatever window
is asked for. So seeding again, with any --years or --instruments, offers the same rows for the
same keys, and a second run inserts nothing (until later releases come due).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from macroinfra.data._pg import Target, database_error, driver_connection
from macroinfra.data.loader import LoadResult, load
from macroinfra.errors import UsageError
from macroinfra.timescale import edition
from macroinfra.timescale.spec import HYPERTABLES

if TYPE_CHECKING:
    import psycopg

ORIGIN = date(1990, 1, 1)
SOURCE = "demo"
SOURCE_DESCRIPTION = (
    "Synthetic demo data from `macroinfra seed demo`: realistic shapes, invented numbers"
)
MAX_YEARS = 30
MAX_INSTRUMENTS = 500
VOL_SURFACE_INSTRUMENTS = 8
DT = 1 / 261  # one business day, in years

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SeedResult:
    start: date
    end: date
    instruments: int
    loads: list[LoadResult]
    compressed_chunks: int | None  # None: the edition has no compression
    seconds: float
    __json_properties__ = ("offered", "inserted")

    @property
    def offered(self) -> int:
        return sum(r.offered for r in self.loads)

    @property
    def inserted(self) -> int:
        return sum(r.inserted for r in self.loads)


def seed_demo(
    target: Target,
    *,
    years: int = 10,
    instruments: int = 20,
    end: date | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Load the demo data set for the `years` up to `end` (default: today, UTC), in one
    transaction. On the Community edition, then compress the chunks the compression policies
    would compress, so compression shows at once."""
    end = end or datetime.now(UTC).date()
    if not 1 <= years <= MAX_YEARS:
        raise UsageError(f"--years must be between 1 and {MAX_YEARS}, not {years}")
    if not 1 <= instruments <= MAX_INSTRUMENTS:
        raise UsageError(
            f"--instruments must be between 1 and {MAX_INSTRUMENTS}, not {instruments}"
        )
    start = _years_before(end, years)
    if start < ORIGIN:
        raise UsageError(
            f"the demo data starts on {ORIGIN}: {years} years before {end} is too early",
            hint="ask for fewer years, or a later end",
        )
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    window = _Window(start, end)
    catalog = _instruments(instruments)
    import psycopg

    with driver_connection(target) as conn:
        try:
            with conn.transaction():
                loads = _load_all(conn, window, catalog, say)
            with conn.transaction():
                compressed = _compress_due_chunks(conn, say)
        except psycopg.Error as exc:
            raise database_error(exc, "seeding the demo data") from None
    return SeedResult(start, end, instruments, loads, compressed, time.perf_counter() - started)


# -- the window and its calendar -------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start: date
    end: date

    @property
    def cutoff(self) -> datetime:
        """Releases after the end of the last day have not happened yet."""
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC) + timedelta(days=1)


def _years_before(day: date, years: int) -> date:
    return date(day.year - years, day.month, min(day.day, 28))


def _business_days(until: date) -> Iterator[date]:
    day = ORIGIN
    one = timedelta(days=1)
    while day <= until:
        if day.weekday() < 5:
            yield day
        day += one


def _weekdays(until: date, weekday: int) -> Iterator[date]:
    day = ORIGIN + timedelta(days=(weekday - ORIGIN.weekday()) % 7)
    while day <= until:
        yield day
        day += timedelta(days=7)


def _months(until: date, step: int = 1) -> Iterator[date]:
    year, month = ORIGIN.year, ORIGIN.month
    while (day := date(year, month, 1)) <= until:
        yield day
        year, month = divmod(year * 12 + month - 1 + step, 12)
        month += 1


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, 28))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _first_weekday(year: int, month: int, weekday: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def _ou(x: float, mean: float, kappa: float, sd: float, z: float, dt: float = 1.0) -> float:
    """One Ornstein-Uhlenbeck step: pulled towards `mean` at rate kappa, shocked by sd."""
    return x + kappa * (mean - x) * dt + sd * math.sqrt(dt) * z


# -- reference data --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instrument:
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


# ticker, name, asset class, country, currency, exchange, level, volatility, decimals, volume
_INSTRUMENTS = tuple(
    _Instrument(*fields)
    for fields in (
        ("EURUSD", "Euro / US dollar", "fx", "EA", "USD", None, 1.12, 0.08, 5, None),
        ("USDJPY", "US dollar / Japanese yen", "fx", "JP", "JPY", None, 115.0, 0.09, 3, None),
        ("SPX", "S&P 500 index", "equity", "US", "USD", "CBOE", 3200.0, 0.18, 2, 2_500_000_000),
        (
            "TY1",
            "US 10-year Treasury note future",
            "rates",
            "US",
            "USD",
            "CBOT",
            128.0,
            0.05,
            4,
            1_400_000,
        ),
        ("XAUUSD", "Gold spot", "commodity", "GLOBAL", "USD", None, 1600.0, 0.15, 2, None),
        (
            "CL1",
            "WTI crude oil future",
            "commodity",
            "GLOBAL",
            "USD",
            "NYMEX",
            65.0,
            0.35,
            2,
            350_000,
        ),
        ("GBPUSD", "British pound / US dollar", "fx", "GB", "USD", None, 1.35, 0.09, 5, None),
        ("SX5E", "Euro Stoxx 50 index", "equity", "EA", "EUR", "EUREX", 3500.0, 0.20, 2, 1_000_000),
        ("NKY", "Nikkei 225 index", "equity", "JP", "JPY", "OSE", 24000.0, 0.21, 2, 900_000),
        ("RX1", "Euro-Bund future", "rates", "DE", "EUR", "EUREX", 160.0, 0.05, 2, 700_000),
        ("AUDUSD", "Australian dollar / US dollar", "fx", "AU", "USD", None, 0.74, 0.11, 5, None),
        ("USDCAD", "US dollar / Canadian dollar", "fx", "CA", "CAD", None, 1.30, 0.07, 5, None),
        ("USDCHF", "US dollar / Swiss franc", "fx", "CH", "CHF", None, 0.95, 0.08, 5, None),
        ("USDBRL", "US dollar / Brazilian real", "fx", "BR", "BRL", None, 4.6, 0.16, 4, None),
        ("USDMXN", "US dollar / Mexican peso", "fx", "MX", "MXN", None, 19.0, 0.13, 4, None),
        (
            "NDX",
            "Nasdaq 100 index",
            "equity",
            "US",
            "USD",
            "NASDAQ",
            11000.0,
            0.23,
            2,
            1_800_000_000,
        ),
        ("UKX", "FTSE 100 index", "equity", "GB", "GBP", "LSE", 7000.0, 0.16, 2, 700_000_000),
        ("HG1", "Copper future", "commodity", "GLOBAL", "USD", "COMEX", 3.2, 0.22, 4, 90_000),
        (
            "CDXIG",
            "CDX North America Investment Grade 5Y",
            "credit",
            "US",
            "USD",
            None,
            65.0,
            0.30,
            3,
            None,
        ),
        (
            "BTCUSD",
            "Bitcoin / US dollar",
            "crypto",
            "GLOBAL",
            "USD",
            None,
            20000.0,
            0.70,
            2,
            30_000,
        ),
        ("VIX", "CBOE volatility index", "volatility", "US", "USD", "CBOE", 18.0, 0.85, 2, None),
    )
)


def _instruments(count: int) -> list[_Instrument]:
    chosen = list(_INSTRUMENTS[:count])
    for n in range(len(chosen) + 1, count + 1):  # invented equities beyond the catalogue
        rng = random.Random(f"demo-instrument:{n}")
        chosen.append(
            _Instrument(
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


@dataclass(frozen=True)
class _Series:
    code: str
    name: str
    frequency: str  # monthly | quarterly | weekly
    country: str
    unit: str
    seasonal_adjustment: str | None
    model: str  # level | rate | change
    mean: float  # level: growth per period; rate: the mean it reverts to; change: mean change
    sd: float
    decimals: int
    start: float = 0.0  # level and rate: the value at ORIGIN
    # macro_series only: when values are released and revised
    release: Callable[[date], datetime] | None = None  # period start -> first release
    revisions: tuple[int, ...] = ()  # days after the first release
    benchmark: tuple[int, int, int] | None = None  # (month, day, years revised)
    revision_sd: float = 0.0
    table: str = "macro_series"
    kind: str | None = None  # flow_type or fiscal_metric
    weekday: int = 2  # weekly series: day of the week

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


def _month_end(period: date) -> date:
    return _add_months(period.replace(day=1), 1) - timedelta(days=1)


def _days_after_month(days: int, hour: int, minute: int = 0) -> Callable[[date], datetime]:
    return lambda p: _at(_month_end(p) + timedelta(days=days), hour, minute)


def _first_friday_after(hour: int, minute: int) -> Callable[[date], datetime]:
    def release(period: date) -> datetime:
        after = _add_months(period.replace(day=1), 1)
        return _at(_first_weekday(after.year, after.month, 4), hour, minute)

    return release


def _quarter_release(days: int) -> Callable[[date], datetime]:
    return lambda p: _at(_add_months(p, 3) + timedelta(days=days - 1), 12, 30)


_MACRO = (
    _Series(
        "US_CPI",
        "US consumer price index, all urban consumers",
        "monthly",
        "US",
        "index 1982-84=100",
        "SA",
        "level",
        0.0021,
        0.0022,
        3,
        128.0,
        _days_after_month(12, 12, 30),
        (),
        (2, 10, 5),
        0.0008,
    ),
    _Series(
        "US_CORE_PCE",
        "US core PCE price index",
        "monthly",
        "US",
        "index 2017=100",
        "SA",
        "level",
        0.0018,
        0.0012,
        3,
        58.0,
        _days_after_month(29, 12, 30),
        (30, 60),
        (7, 28, 3),
        0.0006,
    ),
    _Series(
        "US_NFP",
        "US nonfarm payrolls, monthly change",
        "monthly",
        "US",
        "thousands",
        "SA",
        "change",
        140.0,
        110.0,
        0,
        0.0,
        _first_friday_after(12, 30),
        (28, 56),
        (2, 5, 2),
        45.0,
    ),
    _Series(
        "US_UNRATE",
        "US unemployment rate",
        "monthly",
        "US",
        "percent",
        "SA",
        "rate",
        5.5,
        0.14,
        1,
        5.4,
        _first_friday_after(12, 30),
        (),
        (1, 8, 5),
        0.05,
    ),
    _Series(
        "US_RETAIL_SALES",
        "US retail sales, monthly change",
        "monthly",
        "US",
        "percent",
        "SA",
        "change",
        0.35,
        0.8,
        1,
        0.0,
        _days_after_month(15, 12, 30),
        (30, 60),
        (4, 25, 3),
        0.3,
    ),
    _Series(
        "US_INDPRO",
        "US industrial production index",
        "monthly",
        "US",
        "index 2017=100",
        "SA",
        "level",
        0.0015,
        0.006,
        2,
        60.0,
        _days_after_month(16, 13, 15),
        (30, 60, 90),
        (3, 28, 3),
        0.003,
    ),
    _Series(
        "US_GDP",
        "US real GDP growth, annualised",
        "quarterly",
        "US",
        "percent",
        "SAAR",
        "change",
        2.3,
        2.0,
        1,
        0.0,
        _quarter_release(28),
        (30, 60),
        (9, 26, 3),
        0.6,
    ),
    _Series(
        "US_FEDFUNDS",
        "US effective federal funds rate, monthly average",
        "monthly",
        "US",
        "percent",
        None,
        "rate",
        3.0,
        0.25,
        2,
        8.0,
        _days_after_month(1, 15),
        (),
    ),
    _Series(
        "EA_HICP",
        "Euro area HICP inflation, year on year",
        "monthly",
        "EA",
        "percent",
        "NSA",
        "rate",
        2.0,
        0.25,
        1,
        2.5,
        _days_after_month(0, 9),
        (17,),
        None,
        0.1,
    ),
    _Series(
        "GB_CPI",
        "UK CPI inflation, year on year",
        "monthly",
        "GB",
        "percent",
        "NSA",
        "rate",
        2.2,
        0.3,
        1,
        3.5,
        _days_after_month(17, 6),
        (),
    ),
    _Series(
        "JP_CPI",
        "Japan core CPI inflation, year on year",
        "monthly",
        "JP",
        "percent",
        "NSA",
        "rate",
        0.5,
        0.2,
        1,
        1.5,
        _days_after_month(19, 23, 30),
        (),
    ),
    _Series(
        "CN_PMI",
        "China manufacturing PMI",
        "monthly",
        "CN",
        "index",
        "SA",
        "rate",
        50.5,
        0.9,
        1,
        51.0,
        _days_after_month(0, 1),
        (),
    ),
)

_FLOWS = (
    _Series(
        "US_EQUITY_ETF_FLOWS",
        "US equity ETF net flows",
        "weekly",
        "US",
        "USD mn",
        None,
        "change",
        2000.0,
        6000.0,
        1,
        table="flow_data",
        kind="etf",
    ),
    _Series(
        "EM_BOND_FUND_FLOWS",
        "EM bond fund net flows",
        "weekly",
        "GLOBAL",
        "USD mn",
        None,
        "change",
        100.0,
        1500.0,
        1,
        table="flow_data",
        kind="fund",
    ),
    _Series(
        "CFTC_EUR_NET_SPEC",
        "CFTC euro futures, speculative net position",
        "weekly",
        "US",
        "contracts",
        None,
        "rate",
        40000.0,
        9000.0,
        0,
        20000.0,
        table="flow_data",
        kind="cftc_positioning",
        weekday=1,
    ),
    _Series(
        "US_TIC_PORTFOLIO_DEBT",
        "Foreign net purchases of US long-term debt",
        "monthly",
        "US",
        "USD bn",
        None,
        "change",
        40.0,
        60.0,
        1,
        table="flow_data",
        kind="portfolio_debt",
    ),
    _Series(
        "CN_FDI",
        "China inward foreign direct investment",
        "monthly",
        "CN",
        "USD bn",
        None,
        "rate",
        12.0,
        1.5,
        2,
        10.0,
        table="flow_data",
        kind="fdi",
    ),
)

_FISCAL = (
    _Series(
        "US_FED_DEFICIT",
        "US federal deficit, monthly",
        "monthly",
        "US",
        "USD bn",
        None,
        "change",
        110.0,
        90.0,
        1,
        table="fiscal_data",
        kind="deficit",
    ),
    _Series(
        "US_PUBLIC_DEBT",
        "US total public debt outstanding",
        "monthly",
        "US",
        "USD bn",
        None,
        "level",
        0.006,
        0.004,
        1,
        3200.0,
        table="fiscal_data",
        kind="debt",
    ),
    _Series(
        "US_TSY_ISSUANCE",
        "US Treasury gross coupon issuance",
        "monthly",
        "US",
        "USD bn",
        None,
        "rate",
        380.0,
        45.0,
        1,
        150.0,
        table="fiscal_data",
        kind="issuance",
    ),
    _Series(
        "US_FED_RECEIPTS",
        "US federal receipts, monthly",
        "monthly",
        "US",
        "USD bn",
        None,
        "level",
        0.004,
        0.05,
        1,
        85.0,
        table="fiscal_data",
        kind="revenue",
    ),
    _Series(
        "US_FED_OUTLAYS",
        "US federal outlays, monthly",
        "monthly",
        "US",
        "USD bn",
        None,
        "level",
        0.0045,
        0.04,
        1,
        105.0,
        table="fiscal_data",
        kind="spending",
    ),
    _Series(
        "US_TGA_BALANCE",
        "US Treasury General Account balance",
        "weekly",
        "US",
        "USD bn",
        None,
        "rate",
        500.0,
        60.0,
        1,
        40.0,
        table="fiscal_data",
        kind="tga_balance",
    ),
)

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


# -- loading ---------------------------------------------------------------------------------


def _load_all(
    conn: psycopg.Connection[Any], window: _Window, catalog: list[_Instrument], say: Progress
) -> list[LoadResult]:
    say("loading reference data")
    loads = [
        load(conn, "data_sources", [{"name": SOURCE, "description": SOURCE_DESCRIPTION}]),
        load(conn, "instruments", [i.row() for i in catalog]),
    ]
    row = conn.execute("SELECT id FROM data_sources WHERE name = %s", (SOURCE,)).fetchone()
    assert row is not None  # loaded just above, or there already
    source_id = row[0]
    all_series = _MACRO + _FLOWS + _FISCAL
    loads.append(load(conn, "series_metadata", [s.metadata_row(source_id) for s in all_series]))
    instrument_ids = dict(
        conn.execute(
            "SELECT ticker, id FROM instruments WHERE ticker = ANY(%s)",
            ([i.ticker for i in catalog],),
        ).fetchall()
    )
    series_ids = dict(
        conn.execute(
            "SELECT series_code, id FROM series_metadata WHERE source_id = %s", (source_id,)
        ).fetchall()
    )

    paths = {i.ticker: _price_path(i, window.end) for i in catalog}
    steps: list[tuple[str, tuple[str, ...], Callable[[], Iterator[tuple[Any, ...]]]]] = [
        (
            "market_data",
            _MARKET_COLUMNS,
            lambda: _market_rows(catalog, paths, instrument_ids, window),
        ),
        ("macro_series", _MACRO_COLUMNS, lambda: _macro_rows(series_ids, window)),
        ("curves", _CURVE_COLUMNS, lambda: _curve_rows(window)),
        ("flow_data", _FLOW_COLUMNS, lambda: _kind_rows(_FLOWS, series_ids, window)),
        ("fiscal_data", _FISCAL_COLUMNS, lambda: _kind_rows(_FISCAL, series_ids, window)),
        (
            "vol_surfaces",
            _VOL_COLUMNS,
            lambda: _vol_rows(catalog[:VOL_SURFACE_INSTRUMENTS], instrument_ids, window),
        ),
        (
            "signals",
            _SIGNAL_COLUMNS,
            lambda: _signal_rows(catalog, paths, instrument_ids, series_ids, window),
        ),
    ]
    for table, columns, rows in steps:
        say(f"loading {table}")
        loads.append(load(conn, table, rows(), columns=columns))
    return loads


def _compress_due_chunks(conn: psycopg.Connection[Any], say: Progress) -> int | None:
    """Compress what each hypertable's compression policy would (chunks older than its
    compress-after interval), where the edition has compression; None where it has not.

    compress_chunk skips chunks already compressed and recompresses partially compressed ones.
    """
    from psycopg import sql

    if not edition.read_server(conn).supports_compression:
        return None
    enabled = {
        name
        for (name,) in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = current_schema() AND compression_enabled"
        )
    }
    if not enabled:
        return None
    say("compressing the chunks the compression policies would compress")
    count = 0
    for spec in HYPERTABLES:
        if spec.table not in enabled:
            continue
        row = conn.execute(
            sql.SQL(
                "SELECT count(compress_chunk(c, if_not_compressed => true))"
                " FROM show_chunks({}, older_than => %s::interval) c"
            ).format(sql.Literal(spec.table)),
            (spec.compress_after_sql,),
        ).fetchone()
        count += row[0] if row else 0
    return count


# -- market data and signals -----------------------------------------------------------------

TREND_ANCHOR = date(2020, 1, 1)
_TRENDS = {"equity": 0.07, "crypto": 0.25}  # log drift per year
_MARKET_COLUMNS = (
    "instrument_id",
    "timestamp",
    "frequency",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "adjusted_close",
)
_SIGNAL_COLUMNS = (
    "signal_date",
    "signal_type",
    "instrument_id",
    "series_id",
    "value",
    "confidence",
    "metadata",
)


@dataclass
class _Path:
    days: list[date] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, int | None]] = field(default_factory=list)


def _price_path(inst: _Instrument, until: date) -> _Path:
    """Daily bars from ORIGIN: the log price reverts slowly to a trend line through the
    instrument's level at TREND_ANCHOR (equities and crypto drift up; the rest do not)."""
    rng = random.Random(f"demo-prices:{inst.ticker}")
    gauss = rng.gauss
    step = inst.vol * math.sqrt(DT)
    trend = _TRENDS.get(inst.asset_class, 0.0)
    level = math.log(inst.price)
    x = level + trend * (ORIGIN - TREND_ANCHOR).days / 365.25
    close = math.exp(x)
    path = _Path()
    d = inst.decimals
    for day in _business_days(until):
        z1, z2, z3, z4, z5 = gauss(), gauss(), gauss(), gauss(), gauss()
        open_ = close * math.exp(0.2 * step * z2)
        mean = level + trend * (day - TREND_ANCHOR).days / 365.25
        x = _ou(x, mean, 0.5, inst.vol, z1, DT)
        close = math.exp(x)
        high = max(open_, close) * math.exp(0.5 * step * abs(z3))
        low = min(open_, close) * math.exp(-0.5 * step * abs(z4))
        volume = int(inst.volume * math.exp(0.35 * z5)) if inst.volume else None
        path.days.append(day)
        path.bars.append((round(open_, d), round(high, d), round(low, d), round(close, d), volume))
    return path


def _market_rows(
    catalog: list[_Instrument], paths: dict[str, _Path], ids: dict[str, int], window: _Window
) -> Iterator[tuple[Any, ...]]:
    for inst in catalog:
        path = paths[inst.ticker]
        iid = ids[inst.ticker]
        for day, (o, h, lo, c, v) in zip(path.days, path.bars, strict=True):
            if day >= window.start:
                yield (iid, _at(day, 21), "daily", o, h, lo, c, v, c)


def _signal_rows(
    catalog: list[_Instrument],
    paths: dict[str, _Path],
    ids: dict[str, int],
    series_ids: dict[str, int],
    window: _Window,
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
            yield (
                day,
                "momentum_12m",
                iid,
                None,
                round(z, 6),
                round(min(0.99, 0.5 + abs(z) / 6), 4),
                meta,
            )
    rng = random.Random("demo-signal:risk_appetite")  # market-wide: no instrument, no series
    x = 0.0
    for day in _business_days(window.end):
        x = _ou(x, 0.0, 0.02, 0.25, rng.gauss())
        if day >= window.start:
            yield (day, "risk_appetite", None, None, round(x, 6), None, {"model": "demo"})
    cpi = series_ids["US_CPI"]  # tied to a series: the CPI surprise on its release day
    rng = random.Random("demo-signal:inflation_surprise")
    release = _MACRO[0].release
    assert release is not None
    for period in _months(window.end):
        surprise = rng.gauss() * 0.1
        day = release(period).date()
        if window.start <= day <= window.end:
            yield (
                day,
                "inflation_surprise",
                None,
                cpi,
                round(surprise, 6),
                0.8,
                {"model": "demo", "period": period.isoformat()},
            )


# -- macro series with revisions -------------------------------------------------------------

_MACRO_COLUMNS = ("series_id", "observation_date", "value", "release_time", "revision_number")


def _periods(series: _Series, until: date) -> Iterator[date]:
    if series.frequency == "quarterly":
        return _months(until, 3)
    if series.frequency == "weekly":
        return _weekdays(until, series.weekday)
    return _months(until)


def _true_values(series: _Series, until: date) -> Iterator[tuple[date, float]]:
    """The series' underlying path, one value per period from ORIGIN."""
    rng = random.Random(f"demo-series:{series.code}")
    x = series.start
    for period in _periods(series, until):
        z = rng.gauss()
        if series.model == "level":
            x *= math.exp(series.mean + series.sd * z)
        elif series.model == "rate":
            x = _ou(x, series.mean, 0.05, series.sd, z)
        else:
            x = series.mean + series.sd * z
        yield period, x


def _release_times(series: _Series, period: date, first: datetime) -> list[datetime]:
    """The first release, the scheduled revisions after it, and the annual benchmark
    revisions that revise this period years later; in release order, one per instant."""
    times = {first}
    for days in series.revisions:
        times.add(first + timedelta(days=days))
    if series.benchmark is not None:
        month, day, years = series.benchmark
        for year in range(period.year + 1, period.year + years + 1):
            at = _at(date(year, month, day), first.hour, first.minute)
            if at > first:
                times.add(at)
    return sorted(times)


def _macro_rows(series_ids: dict[str, int], window: _Window) -> Iterator[tuple[Any, ...]]:
    cutoff = window.cutoff
    for series in _MACRO:
        assert series.release is not None
        sid = series_ids[series.code]
        for period, value in _true_values(series, window.end):
            first = series.release(period)
            if period < window.start or first >= cutoff:
                continue
            times = _release_times(series, period, first)
            noise = random.Random(f"demo-revisions:{series.code}:{period.isoformat()}")
            shocks = [noise.gauss() for _ in times]
            last = len(times) - 1
            for revision, (at, z) in enumerate(zip(times, shocks, strict=True)):
                if at >= cutoff:
                    break
                # Early prints are noisy; each revision moves closer to the final value.
                error = 0.0 if revision == last and revision > 0 else z * series.revision_sd
                error *= 0.6**revision
                if series.model == "level":
                    estimate = value * (1 + error)
                else:
                    estimate = value + error
                yield (sid, period, round(estimate, series.decimals), at, revision)


# Flow and fiscal series: one value per period, no revisions.
_FLOW_COLUMNS = ("series_id", "observation_date", "flow_type", "value", "unit")
_FISCAL_COLUMNS = ("series_id", "observation_date", "fiscal_metric", "value", "unit")


def _kind_rows(
    catalog: tuple[_Series, ...], series_ids: dict[str, int], window: _Window
) -> Iterator[tuple[Any, ...]]:
    for series in catalog:
        sid = series_ids[series.code]
        for period, value in _true_values(series, window.end):
            if period >= window.start:
                yield (sid, period, series.kind, round(value, series.decimals), series.unit)


# -- curves and vol surfaces -----------------------------------------------------------------

_CURVE_COLUMNS = (
    "curve_id",
    "curve_date",
    "curve_type",
    "tenor_days",
    "tenor_label",
    "rate",
    "country",
)
_VOL_COLUMNS = ("instrument_id", "surface_date", "delta", "tenor_days", "implied_vol")


def _curve_rows(window: _Window) -> Iterator[tuple[Any, ...]]:
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
        for day in _business_days(window.end):
            b0 = _ou(b0, level, 0.15, 0.9, rng.gauss(), DT)
            b1 = _ou(b1, slope, 0.4, 1.0, rng.gauss(), DT)
            b2 = _ou(b2, curvature, 0.6, 1.2, rng.gauss(), DT)
            if day < window.start:
                continue
            for days, label, l1, l2 in loadings:
                rate = b0 + b1 * l1 + b2 * l2
                yield (curve_id, day, curve_type, days, label, round(rate, 5), country)


def _vol_rows(
    catalog: list[_Instrument], ids: dict[str, int], window: _Window
) -> Iterator[tuple[Any, ...]]:
    """Weekly (Friday) surfaces: an ATM level with a skew, a smile and a term structure."""
    week = 5 / 261
    for inst in catalog:
        rng = random.Random(f"demo-vol:{inst.ticker}")
        iid = ids[inst.ticker]
        level = math.log(inst.vol)
        log_atm, skew = level, -0.25 if inst.asset_class == "equity" else 0.05
        base_skew = skew
        for day in _weekdays(window.end, 4):  # the log of ATM vol reverts fast: vol clusters
            log_atm = _ou(log_atm, level, 4.0, 0.8, rng.gauss(), week)
            atm = math.exp(log_atm)
            skew = _ou(skew, base_skew, 3.0, 0.2, rng.gauss(), week)
            if day < window.start:
                continue
            for tenor in _VOL_TENORS:
                term = (tenor / 30) ** (0.04 if atm < inst.vol else -0.04)
                for delta in _DELTAS:
                    m = delta - 0.5
                    vol = atm * term * (1 - skew * m + 0.6 * m * m)
                    yield (iid, day, delta, tenor, round(max(vol, 0.01), 6))
