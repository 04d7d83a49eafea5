"""`macroinfra schema show` on 7 hypertables with 10 chunks, and with 1,000+ chunks.

Targets: with 1,000+ chunks at most 1.5 s, and at most 2x the time with 10 chunks; the number
of catalog queries does not grow with chunks.
Run: .venv/bin/python bench/bench_schema_show.py
"""

from __future__ import annotations

import statistics
import time

from _common import VENV_BIN, local_stack, median_run

RUNS = 5
LARGE_MARKET_CHUNKS = 1000  # market_data has 30-day chunks: one row every 30 days, one chunk each

# One row per chunk interval of each hypertable, from 1950 on (each steps by its chunk).
FILL = {
    "market_data": (
        "(timestamp, instrument_id, frequency, close)",
        "timestamptz '1950-01-01' + make_interval(days => 30 * g), 1, 'daily', g",
    ),
    "macro_series": (
        "(observation_date, series_id, value, release_time)",
        "date '1950-01-01' + 360 * g, 1, g, now()",
    ),
    "curves": (
        "(curve_date, curve_id, curve_type, tenor_days, rate)",
        "date '1950-01-01' + 90 * g, 'UST', 'nominal', 3650, 0.04",
    ),
    "flow_data": (
        "(observation_date, series_id, flow_type, value)",
        "date '1950-01-01' + 360 * g, 1, 'etf', g",
    ),
    "fiscal_data": (
        "(observation_date, series_id, fiscal_metric, value)",
        "date '1950-01-01' + 360 * g, 1, 'deficit', g",
    ),
    "vol_surfaces": (
        "(surface_date, instrument_id, delta, tenor_days, implied_vol)",
        "date '1950-01-01' + 360 * g, 1, 0.25, 30, 0.2",
    ),
    "signals": (
        "(signal_date, signal_type, instrument_id, value)",
        "date '1950-01-01' + 360 * g, 'risk_off', NULL, 0.5",
    ),
}


def populate(settings, market_chunks: int, other_chunks: int) -> int:
    import psycopg

    from macroinfra.data.loader import load

    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        # A new database: these get id 1, which the rows below refer to.
        load(conn, "data_sources", [{"name": "FRED"}])
        load(conn, "instruments", [{"ticker": "ES", "name": "S&P", "asset_class": "equity"}])
        series = {"source_id": 1, "series_code": "CPI", "name": "CPI", "frequency": "monthly"}
        load(conn, "series_metadata", [series])
        for table, (columns, values) in FILL.items():
            chunks = market_chunks if table == "market_data" else other_chunks
            conn.execute(
                f"INSERT INTO {table} {columns} SELECT {values} FROM generate_series(0, %s - 1) g",
                (chunks,),
            )
        conn.execute("ANALYZE")
        return conn.execute("SELECT count(*) FROM timescaledb_information.chunks").fetchone()[0]


def in_process(settings) -> tuple[float, int, int]:
    """Median seconds of schema_report (connect included), queries, hypertables."""
    from macroinfra.db import Database
    from macroinfra.timescale.contract import schema_report

    times = []
    for _ in range(RUNS):
        db = Database(settings)
        started = time.perf_counter()
        report = schema_report(db)
        times.append(time.perf_counter() - started)
        db.dispose()
    hypertables = sum(t.kind == "hypertable" for t in report.tables)
    return statistics.median(times), report.queries, hypertables


def main() -> None:
    import psycopg

    from macroinfra import migrations
    from macroinfra.db import Database
    from macroinfra.settings import load_settings

    show = [str(VENV_BIN / "macroinfra"), "schema", "show", "--json"]
    with local_stack() as env:
        base = load_settings()
        admin = base.model_copy(update={"postgres_db": "postgres"})
        results = {}
        scenarios = (("10 chunks", 4, 1), ("1,000+ chunks", LARGE_MARKET_CHUNKS, 10))
        for label, market, others in scenarios:
            name = "bench_small" if market < 10 else "bench_large"
            with psycopg.connect(admin.libpq_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            settings = base.model_copy(update={"postgres_db": name})
            db = Database(settings)
            migrations.upgrade(db)
            db.dispose()
            chunks = populate(settings, market, others)
            lib, queries, hypertables = in_process(settings)
            wall, _, codes = median_run(show, RUNS, {**env, "POSTGRES_DB": name})
            assert codes == {0}, codes
            results[label] = (lib, wall)
            print(
                f"{label:>13}: {hypertables} hypertables, {chunks} chunks, {queries} queries; "
                f"schema_report {lib * 1000:.0f} ms, `macroinfra schema show --json` process "
                f"{wall * 1000:.0f} ms (median of {RUNS})"
            )
    small, large = results["10 chunks"], results["1,000+ chunks"]
    print(
        f"large / small: schema_report {large[0] / small[0]:.2f}x, process "
        f"{large[1] / small[1]:.2f}x (target <= 2x); large process {large[1]:.2f} s "
        f"(target <= 1.5 s)"
    )


if __name__ == "__main__":
    main()
