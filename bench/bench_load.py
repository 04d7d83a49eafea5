"""Bulk load into market_data against `executemany` of the same INSERT ... ON CONFLICT.

Starts its own local stack in a temporary folder, migrates it, fills market_data with a base
of rows (1,000,000 by default), then times, on that table:
- the bulk loader (COPY into a staging table, INSERT ... SELECT ... ON CONFLICT DO NOTHING)
  with new rows, and again with the same rows (all skipped);
- psycopg's executemany of INSERT ... ON CONFLICT ON CONSTRAINT ... DO NOTHING with new rows
  (psycopg 3 sends executemany in pipeline mode), and, for context, the same INSERT executed
  once per row.

    .venv/bin/python bench/bench_load.py [--base 1000000] [--rows 200000] [--many 20000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import local_stack

INSTRUMENTS = 50
COLUMNS = (
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
START = datetime(2015, 1, 1, tzinfo=UTC)


def bars(first_hour: int, hours: int) -> Iterator[tuple[Any, ...]]:
    """Hourly bars for every instrument, `hours` hours from START + first_hour."""
    for hour in range(first_hour, first_hour + hours):
        ts = START + timedelta(hours=hour)
        for instrument in range(1, INSTRUMENTS + 1):
            price = 100.0 + (hour % 500) * 0.01 + instrument
            yield (
                instrument,
                ts,
                "hourly",
                price,
                price + 0.5,
                price - 0.5,
                price + 0.1,
                1000 + hour % 97,
                price + 0.1,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=1_000_000, help="rows already in the table")
    parser.add_argument("--rows", type=int, default=200_000, help="rows per bulk load")
    parser.add_argument("--many", type=int, default=20_000, help="rows for executemany")
    args = parser.parse_args()

    import psycopg

    from macroinfra import migrations
    from macroinfra.data.loader import load
    from macroinfra.db import Database
    from macroinfra.settings import load_settings

    with local_stack():
        settings = load_settings()
        db = Database(settings)
        migrations.upgrade(db)
        db.dispose()
        with psycopg.connect(settings.libpq_url) as conn:
            load(
                conn,
                "instruments",
                [
                    {"ticker": f"BENCH{i:03d}", "name": f"bench {i}", "asset_class": "equity"}
                    for i in range(1, INSTRUMENTS + 1)
                ],
            )
            base_hours = args.base // INSTRUMENTS
            started = time.perf_counter()
            base = load(conn, "market_data", bars(0, base_hours), columns=COLUMNS)
            conn.execute("ANALYZE market_data")
            conn.commit()
            print(
                f"base: {base.inserted:,} rows in {time.perf_counter() - started:.1f} s "
                f"({base.inserted / base.seconds:,.0f} rows/s into an empty table)"
            )

            # Rows are built before the clock starts, for every method alike.
            hours = args.rows // INSTRUMENTS
            batch = list(bars(base_hours, hours))
            fresh = load(conn, "market_data", batch, columns=COLUMNS)
            again = load(conn, "market_data", batch, columns=COLUMNS)
            bulk_rate = fresh.inserted / fresh.seconds

            many_hours = args.many // INSTRUMENTS
            rows = list(bars(base_hours + hours, many_hours))
            insert = (
                f"INSERT INTO market_data ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
                "ON CONFLICT ON CONSTRAINT uq_market_data_natural_key DO NOTHING"
            )
            started = time.perf_counter()
            with conn.cursor() as cur:  # psycopg sends these in pipeline mode
                cur.executemany(insert, rows)
            conn.commit()
            many_seconds = time.perf_counter() - started
            many_rate = len(rows) / many_seconds

            # For context: one statement and one round trip per row.
            single = list(bars(base_hours + hours + many_hours, max(1, many_hours // 4)))
            started = time.perf_counter()
            with conn.cursor() as cur:
                for row in single:
                    cur.execute(insert, row)
            conn.commit()
            single_rate = len(single) / (time.perf_counter() - started)
            (total,) = conn.execute("SELECT count(*) FROM market_data").fetchone() or (0,)

    print(f"table before the timed loads: {base.inserted:,} rows; after: {total:,} rows")
    print(
        f"bulk loader, new rows:        {fresh.inserted:,} rows in {fresh.seconds:.2f} s = "
        f"{bulk_rate:,.0f} rows/s"
    )
    print(
        f"bulk loader, same rows again: {again.offered:,} offered, {again.inserted} inserted "
        f"in {again.seconds:.2f} s = {again.offered / again.seconds:,.0f} rows/s"
    )
    print(
        f"executemany, new rows:        {len(rows):,} rows in {many_seconds:.2f} s = "
        f"{many_rate:,.0f} rows/s"
    )
    print(f"execute per row (context):    {len(single):,} rows = {single_rate:,.0f} rows/s")
    print(f"bulk loader / executemany:    {bulk_rate / many_rate:.1f}x")
    print(f"bulk loader / execute per row: {bulk_rate / single_rate:.1f}x")
    for target, met in (
        (">= 100,000 rows/s", bulk_rate >= 100_000),
        (">= 10x executemany (pipeline mode)", bulk_rate >= 10 * many_rate),
        (">= 10x execute per row", bulk_rate >= 10 * single_rate),
        ("a reload inserts nothing", again.inserted == 0),
    ):
        print(f"target {target}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
