"""Bulk load into market_data against its physical limit, a plain COPY, in one run.

Starts its own local stack in a temporary folder, migrates it, fills market_data with a base of
rows (200,000 by default), then times four writers on the same table, each with rows of its
own (--rows, 100,000 by default), in three cases:
- append: no row of the batch is stored;
- half: the older half of the batch is stored already (plain COPY: the new half alone);
- all: every row is stored (plain COPY: the same rows when they were new);
The writers: the bulk loader (macroinfra.data.loader.load); a plain COPY straight into the
table (not idempotent: the fastest correct insert there is); psycopg's executemany of INSERT
... ON CONFLICT DO NOTHING (pipeline mode); SQLAlchemy's insert(...).on_conflict_do_nothing()
with a list of dicts. The loader and plain COPY take turns, --repeat times (the best of each is
kept: the machine may be shared); executemany and SQLAlchemy, far from the limit, run once.
Each ratio is plain COPY's seconds over the writer's seconds for the same new rows.

Then `data load`'s path: a CSV file of --file-rows rows (1,000,000 by default) parsed alone,
and loaded (macroinfra.data.files.load_file, what the command calls), against load() of the
same rows as Python values.

    .venv/bin/python bench/bench_load.py [--base 200000] [--rows 100000] [--file-rows 1000000]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from collections.abc import Callable
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
Rows = list[tuple[Any, ...]]


class Bars:
    """Hourly bars for every instrument, each call later in time than the last."""

    def __init__(self) -> None:
        self.hour = 0

    def next(self, rows: int) -> Rows:
        hours = max(1, rows // INSTRUMENTS)
        out = []
        for hour in range(self.hour, self.hour + hours):
            ts = START + timedelta(hours=hour)
            for instrument in range(1, INSTRUMENTS + 1):
                price = 100.0 + (hour % 500) * 0.01 + instrument
                out.append(
                    (
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
                )
        self.hour += hours
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=200_000, help="rows already in the table")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per writer and case")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of the loader and of plain COPY (best kept)"
    )
    parser.add_argument("--file-rows", type=int, default=1_000_000, help="rows of the CSV file")
    args = parser.parse_args()

    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.dialects.postgresql import insert

    from macroinfra import migrations
    from macroinfra.data.loader import load
    from macroinfra.db import Database
    from macroinfra.models import MarketData
    from macroinfra.settings import load_settings

    copy_sql = f"COPY market_data ({', '.join(COLUMNS)}) FROM STDIN"
    insert_sql = (
        f"INSERT INTO market_data ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
        "ON CONFLICT ON CONSTRAINT uq_market_data_natural_key DO NOTHING"
    )

    with local_stack():
        settings = load_settings()
        db = Database(settings)
        migrations.upgrade(db)
        db.dispose()
        engine = create_engine(settings.sync_database_url)
        bars = Bars()
        with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
            load(
                conn,
                "instruments",
                [
                    {"ticker": f"BENCH{i:03d}", "name": f"bench {i}", "asset_class": "equity"}
                    for i in range(1, INSTRUMENTS + 1)
                ],
            )

            def plain_copy(rows: Rows) -> int:
                with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                return len(rows)

            def loader(rows: Rows) -> int:
                return load(conn, "market_data", rows, columns=COLUMNS).inserted

            def executemany(rows: Rows) -> int:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(insert_sql, rows)
                return len(rows)

            def sqlalchemy(rows: Rows) -> int:
                dicts = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
                with engine.begin() as sa:
                    sa.execute(insert(MarketData).on_conflict_do_nothing(), dicts)
                return len(rows)

            started = time.perf_counter()
            base = 0
            while base < args.base:
                base += plain_copy(bars.next(min(100_000, args.base - base)))
            conn.execute("ANALYZE market_data")
            print(f"base: {base:,} rows by plain COPY in {time.perf_counter() - started:.1f} s")

            writers: dict[str, Callable[[Rows], int]] = {
                "bulk loader": loader,
                "plain COPY": plain_copy,
                "executemany": executemany,
                "SQLAlchemy": sqlalchemy,
            }
            best: dict[tuple[str, str], float] = {}
            for run in range(args.repeat):
                for name, write in writers.items():
                    if run and name in ("executemany", "SQLAlchemy"):
                        continue
                    rows = bars.next(args.rows)
                    best[("append", name)] = min(
                        best.get(("append", name), float("inf")), timed(write, rows)
                    )
                    if name != "plain COPY":
                        best[("all", name)] = min(
                            best.get(("all", name), float("inf")), timed(write, rows)
                        )
                    half = bars.next(args.rows)
                    plain_copy(half[: len(half) // 2])
                    if name == "plain COPY":
                        seconds = timed(write, half[len(half) // 2 :])
                    else:
                        seconds = timed(write, half)
                    best[("half", name)] = min(best.get(("half", name), float("inf")), seconds)
            (total,) = conn.execute("SELECT count(*) FROM market_data").fetchone() or (0,)
            file_figures = bench_file(conn, bars, args.file_rows) if args.file_rows else None
        engine.dispose()

    rows = (args.rows // INSTRUMENTS) * INSTRUMENTS
    print(f"market_data: {base:,} rows before the timed writes, {total:,} after them")
    print(
        f"{rows:,} rows per writer and case; loader and plain COPY: best of {args.repeat}; "
        "ratio = COPY s / writer s"
    )
    copy_s = best[("append", "plain COPY")]
    half_copy_s = best[("half", "plain COPY")]
    print(f"{'case':<8}{'writer':<14}{'seconds':>9}{'rows/s':>11}{'x COPY':>8}  target")
    targets = {
        ("append", "bulk loader"): 0.9,
        ("half", "bulk loader"): 0.6,
        ("all", "bulk loader"): 1.3,
    }
    for case, limit in (("append", copy_s), ("half", half_copy_s), ("all", copy_s)):
        for name in writers:
            if case == "all" and name == "plain COPY":
                continue
            seconds = best[(case, name)]
            ratio = limit / seconds
            sent = rows // 2 if (case, name) == ("half", "plain COPY") else rows
            target = targets.get((case, name))
            verdict = (
                ""
                if target is None
                else f">= {target}: " + ("met" if ratio >= target else "NOT met")
            )
            print(
                f"{case:<8}{name:<14}{seconds:>9.3f}{sent / seconds:>11,.0f}{ratio:>8.2f}  "
                f"{verdict}"
            )
    if file_figures:
        for line in file_figures:
            print(line)


def timed(write: Callable[[Rows], int], rows: Rows) -> float:
    started = time.perf_counter()
    write(rows)
    return time.perf_counter() - started


def bench_file(conn: Any, bars: Bars, count: int) -> list[str]:
    """`data load`'s path on a CSV file of `count` rows against load() of the same rows."""
    from macroinfra.data.files import load_file, read_rows
    from macroinfra.data.loader import load

    api_rows = bars.next(count)
    file_rows = bars.next(count)
    fd, path = tempfile.mkstemp(prefix="macroinfra-bench-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for row in file_rows:
                writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in row])
        size = os.path.getsize(path)
        del file_rows
        started = time.perf_counter()
        with open(path, "rb") as f:
            parsed = sum(1 for _ in read_rows(f, "market_data").rows)
        parse_s = time.perf_counter() - started
        api = load(conn, "market_data", api_rows, columns=COLUMNS)
        with open(path, "rb") as f:
            loaded = load_file(conn, "market_data", f)
    finally:
        os.unlink(path)
    api_rate = api.inserted / api.seconds
    file_rate = loaded.inserted / loaded.seconds
    return [
        f"CSV file: {count:,} rows, {size / 1e6:.0f} MB",
        f"  parse only (read_rows):       {parsed / parse_s:>11,.0f} rows/s",
        f"  load() of the rows as values: {api_rate:>11,.0f} rows/s ({api.inserted:,} new)",
        f"  load_file() of the CSV file:  {file_rate:>11,.0f} rows/s ({loaded.inserted:,} new)",
        f"  file / API: {file_rate / api_rate:.2f}x  target >= 0.8: "
        + ("met" if file_rate >= 0.8 * api_rate else "NOT met"),
    ]


if __name__ == "__main__":
    main()
