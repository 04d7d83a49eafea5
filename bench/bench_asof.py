"""as_of for one series among 1,000,000 macro_series rows.

Starts its own local stack in a temporary folder, migrates it, loads (through the bulk loader)
`--series` series of 30 years of monthly observations with 10 revisions each, 1,080,000 rows by
default, then times as_of, first_release and latest for one of them and prints the plan.

    .venv/bin/python bench/bench_asof.py [--series 300] [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from _common import local_stack

YEARS = 30
REVISIONS = 10
COLUMNS = ("series_id", "observation_date", "value", "release_time", "revision_number")
FIRST = date(1995, 1, 1)


def revisions(series_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    """Monthly observations; revision k released k * 30 days after the first release, the
    last ones years later."""
    for sid in series_ids:
        for month in range(YEARS * 12):
            obs = date(FIRST.year + month // 12, month % 12 + 1, 1)
            first = datetime(obs.year, obs.month, 1, 12, 30, tzinfo=UTC) + timedelta(days=45)
            for k in range(REVISIONS):
                yield (sid, obs, Decimal(month * 10 + k) / 10, first + timedelta(days=30 * k**2), k)


def timed(action: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median and 95th percentile in milliseconds, and the last result."""
    samples = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    import psycopg

    from macroinfra import migrations
    from macroinfra.data import asof
    from macroinfra.data.loader import load
    from macroinfra.db import Database
    from macroinfra.settings import load_settings

    with local_stack():
        settings = load_settings()
        db = Database(settings)
        migrations.upgrade(db)
        with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
            load(conn, "data_sources", [{"name": "bench"}])
            load(
                conn,
                "series_metadata",
                [
                    {
                        "source_id": 1,
                        "series_code": f"BENCH{n:04d}",
                        "name": f"bench {n}",
                        "frequency": "monthly",
                    }
                    for n in range(args.series)
                ],
            )
            ids = [r[0] for r in conn.execute("SELECT id FROM series_metadata ORDER BY id")]
            started = time.perf_counter()
            loaded = load(conn, "macro_series", revisions(ids), columns=COLUMNS)
            conn.execute("ANALYZE macro_series")
            print(
                f"loaded {loaded.inserted:,} macro_series rows in "
                f"{time.perf_counter() - started:.1f} s"
            )
            (chunks,) = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks"
                " WHERE hypertable_name = 'macro_series'"
            ).fetchone() or (0,)

            target = ids[len(ids) // 2]
            code = f"BENCH{len(ids) // 2:04d}"
            at = datetime(2012, 6, 1, tzinfo=UTC)
            figures = {
                "as_of (psycopg connection, by id)": lambda: asof.as_of(conn, target, at),
                "as_of (psycopg connection, by code)": lambda: asof.as_of(conn, code, at),
                "as_of (Database, pooled)": lambda: asof.as_of(db, code, at),
                "first_release (psycopg connection)": lambda: asof.first_release(conn, target),
                "latest (psycopg connection)": lambda: asof.latest(conn, target),
            }
            results = {name: timed(action, args.runs) for name, action in figures.items()}
            plan = asof.explain(conn, target, "as_of", at, analyze=True)
        db.dispose()

    print(
        f"macro_series: {loaded.inserted:,} rows in {chunks} chunks; the series read: "
        f"{YEARS * 12} observations x {REVISIONS} revisions; {args.runs} runs each"
    )
    for name, (median, p95, view) in results.items():
        print(
            f"{name:38s} median {median:6.2f} ms   p95 {p95:6.2f} ms   "
            f"{len(view.observations)} observations"
        )
    import collections
    import re

    nodes = collections.Counter(
        m.group(1)
        for line in plan
        if (m := re.search(r"->\s+([A-Z][A-Za-z ]*?)\s+(?:on |\()", line))
    )
    print("plan of as_of (EXPLAIN ANALYZE), first lines:")
    for line in plan[:8]:
        print("  " + line)
    print("  ...")
    for line in plan[-3:]:
        print("  " + line)
    print("plan nodes: " + ", ".join(f"{n} x{c}" for n, c in nodes.most_common()))
    scans = [line for line in plan if "Seq Scan" in line]
    worst = max(p95 for _, p95, _ in results.values())
    print(
        f"Seq Scan nodes: {len(scans)}; slowest p95 {worst:.2f} ms; target <= 20 ms: "
        + ("met" if worst <= 20 and not scans else "NOT met")
    )


if __name__ == "__main__":
    main()
