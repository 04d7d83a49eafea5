"""The demo data set: every hypertable filled through the loader, idempotent, point-in-time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from helpers import sql_rows

from macroinfra.data import asof
from macroinfra.data.demo import ORIGIN, seed_demo
from macroinfra.db import Database
from macroinfra.errors import UsageError
from macroinfra.timescale.spec import ALL_TABLES, HYPERTABLES

END = date(2025, 6, 30)


@pytest.fixture
def seeded(migrated):
    messages: list[str] = []
    db = Database(migrated)
    try:
        result = seed_demo(db, years=2, instruments=3, end=END, progress=messages.append)
    finally:
        db.dispose()
    return migrated, result, messages


def test_the_demo_fills_every_table_through_the_loader(seeded):
    settings, result, messages = seeded
    assert [r.table for r in result.loads] == list(ALL_TABLES)
    assert all(r.inserted == r.offered > 0 for r in result.loads)
    for spec in HYPERTABLES:
        stored = sql_rows(settings, f"SELECT count(*) FROM {spec.table}")[0][0]
        assert stored == next(r.inserted for r in result.loads if r.table == spec.table)
    assert (result.start, result.end, result.instruments) == (date(2023, 6, 28), END, 3)
    assert result.inserted == result.offered
    assert result.compressed_chunks is None  # the Apache edition: nothing to compress
    assert messages[0] == "loading reference data"
    assert [m for m in messages if m.startswith("loading ")][1:] == [
        f"loading {spec.table}" for spec in HYPERTABLES
    ]


def test_the_demo_has_chunks_revisions_and_market_wide_signals(seeded):
    settings, _, _ = seeded
    chunks = dict(
        sql_rows(
            settings,
            "SELECT hypertable_name, count(*) FROM timescaledb_information.chunks GROUP BY 1",
        )
    )
    assert chunks["market_data"] >= 24  # two years of monthly chunks
    assert set(chunks) == {spec.table for spec in HYPERTABLES}
    (first, last) = sql_rows(settings, "SELECT min(timestamp), max(timestamp) FROM market_data")[0]
    assert first.date() >= date(2023, 6, 28) and last.date() <= END
    revised = sql_rows(settings, "SELECT count(*) FROM macro_series WHERE revision_number > 0")
    assert revised[0][0] > 100
    years_later = sql_rows(
        settings,
        "SELECT count(*) FROM macro_series WHERE release_time > observation_date + 365",
    )
    assert years_later[0][0] > 0  # benchmark revisions of old periods
    nulls = sql_rows(settings, "SELECT count(*) FROM signals WHERE instrument_id IS NULL")
    assert nulls[0][0] > 0
    bars = sql_rows(
        settings,
        "SELECT count(*) FROM market_data"
        " WHERE NOT (low <= least(open, close) AND high >= greatest(open, close))",
    )
    assert bars == [(0,)]


def test_seeding_again_inserts_nothing(seeded):
    settings, first, _ = seeded
    with psycopg.connect(settings.libpq_url) as conn:
        again = seed_demo(conn, years=2, instruments=3, end=END)
    assert again.offered == first.offered
    assert again.inserted == 0


def test_values_do_not_depend_on_the_window(seeded):
    """A wider window offers the same rows for the same keys: the published-revision check
    would reject any difference."""
    settings, first, _ = seeded
    db = Database(settings)
    try:
        wider = seed_demo(db, years=3, instruments=5, end=date(2025, 9, 30))
        assert wider.inserted > 0
        assert seed_demo(db, years=1, instruments=2, end=END).inserted == 0
    finally:
        db.dispose()


def test_demo_series_read_as_of_without_look_ahead(seeded):
    settings, _, _ = seeded
    at = datetime(2024, 6, 1, tzinfo=UTC)
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        view = asof.as_of(conn, "US_CPI", at)
        latest = asof.latest(conn, "US_CPI")
    assert view.observations and all(o.release_time <= at for o in view.observations)
    assert view.observations[-1].observation_date == date(2024, 4, 1)
    assert len(latest.observations) > len(view.observations)
    assert any(o.revision_number > 0 for o in latest.observations)


def test_bad_arguments_are_usage_errors(migrated):
    db = Database(migrated)
    with pytest.raises(UsageError, match="--years must be between 1 and 30"):
        seed_demo(db, years=0)
    with pytest.raises(UsageError, match="--instruments must be between 1 and 500"):
        seed_demo(db, instruments=501)
    with pytest.raises(UsageError, match=f"the demo data starts on {ORIGIN}"):
        seed_demo(db, years=5, end=date(1993, 1, 1))
