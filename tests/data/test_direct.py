"""The loader's append path: new rows copied straight into the hypertable in a savepoint, the
stored ones dropped after one index query per window, and the staging path taken whenever a
key turns out to be taken (a concurrent writer, a repeated key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from helpers import run_while_blocked, sql_rows

from macroinfra.data import direct
from macroinfra.data.loader import LoadResult, load
from macroinfra.errors import OperationError, UsageError

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def conn(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as connection:
        load(
            connection,
            "instruments",
            [
                {"ticker": "SPX", "name": "S&P 500", "asset_class": "equity"},
                {"ticker": "NDX", "name": "Nasdaq 100", "asset_class": "equity"},
            ],
        )
        yield connection


def bars(conn, hours: range, close: float = 2.0) -> list[dict[str, Any]]:
    ids = [i for (i,) in conn.execute("SELECT id FROM instruments ORDER BY id")]
    return [
        {
            "instrument_id": i,
            "timestamp": T0 + timedelta(hours=h),
            "frequency": "hourly",
            "open": 1,
            "high": 3,
            "low": 1,
            "close": close,
            "volume": 10,
        }
        for h in hours
        for i in ids
    ]


@pytest.fixture
def copies(monkeypatch) -> list[int]:
    """The number of rows of each COPY straight into the table (the real function, observed)."""
    sent: list[int] = []
    real = direct.copy_in_savepoint

    def observed(conn, cur, statement, rows):
        rows = list(rows)  # checked as they are read: the rows a COPY would send
        sent.append(len(rows))
        return real(conn, cur, statement, rows)

    monkeypatch.setattr(direct, "copy_in_savepoint", observed)
    return sent


@pytest.fixture
def staged(monkeypatch) -> list[int]:
    """The number of rows of each window that took the staging path (observed)."""
    windows: list[int] = []
    real = direct.load_direct

    def observed(conn, cur, info, cols, rows, stage, check, **options):
        def counted(window):
            window = list(window)
            windows.append(len(window))
            return stage(window)

        return real(conn, cur, info, cols, rows, counted, check, **options)

    monkeypatch.setattr("macroinfra.data.loader.load_direct", observed)
    return windows


def closes(settings) -> list[Decimal]:
    return [c for (c,) in sql_rows(settings, "SELECT close FROM market_data ORDER BY 1")]


def test_an_append_is_one_copy_straight_into_the_table(migrated, conn, copies, staged):
    result = load(conn, "market_data", bars(conn, range(10)))
    assert (result.offered, result.inserted) == (20, 20)
    assert copies == [20] and staged == []


def test_a_batch_overlapping_stored_rows_copies_only_the_new_ones(migrated, conn, copies, staged):
    assert load(conn, "market_data", bars(conn, range(0, 4))).inserted == 8
    result = load(conn, "market_data", bars(conn, range(2, 6), close=9.0))  # hours 2, 3 stored
    assert (result.offered, result.inserted, result.skipped) == (8, 4, 4)
    assert copies == [8, 4] and staged == []
    # stored rows are never overwritten: hours 2 and 3 keep their close of 2
    assert closes(migrated) == [Decimal(2)] * 8 + [Decimal(9)] * 4

    again = load(conn, "market_data", bars(conn, range(0, 6)))
    assert (again.offered, again.inserted) == (12, 0)
    assert copies == [8, 4]  # all stored: nothing copied at all


def test_a_key_repeated_in_the_batch_is_loaded_once_on_either_path(migrated, conn, copies, staged):
    rows = bars(conn, range(2))
    result = load(conn, "market_data", [*rows, rows[0]])  # nothing stored: copied, refused, staged
    assert (result.offered, result.inserted) == (5, 4)
    assert copies == [5] and staged == [5]
    later = bars(conn, range(2, 4))
    result = load(conn, "market_data", [*rows, *later, later[1]])  # stored keys read: deduplicated
    assert (result.offered, result.inserted) == (9, 4)
    assert copies == [5, 4] and staged == [5]
    assert sql_rows(migrated, "SELECT count(*) FROM market_data") == [(8,)]


def test_a_window_with_too_many_stored_keys_is_staged(migrated, conn, monkeypatch, staged):
    monkeypatch.setattr(direct, "KEYS_PER_ROW", 0)
    load(conn, "market_data", bars(conn, range(3)))
    result = load(conn, "market_data", bars(conn, range(6)))
    assert (result.offered, result.inserted) == (12, 6)
    assert staged == [12]


def test_windows_and_row_numbers_in_errors(migrated, conn, monkeypatch, copies):
    monkeypatch.setattr(direct, "WINDOW_ROWS", 3)
    load(conn, "market_data", bars(conn, range(1)))  # rows 1 and 2 of the batch below are stored
    rows = bars(conn, range(5))
    rows[8] = {**rows[8], "close": "two"}  # row 9: the second row sent in the third window
    with pytest.raises(OperationError, match=r"invalid input syntax .*\(row 9, column close\)"):
        load(conn, "market_data", rows)
    rows[8] = {**rows[8], "timestamp": "2024-03-01 08:00"}
    with pytest.raises(UsageError, match=r"row 9, column timestamp: .* has no time zone"):
        load(conn, "market_data", rows)
    assert sql_rows(migrated, "SELECT count(*) FROM market_data") == [(2,)]  # nothing written
    rows[8] = bars(conn, range(5))[8]
    bad = {**rows[2], "close": "three"}  # row 3: the only row the first window sends
    with pytest.raises(OperationError, match=r"\(row 3, column close\)"):
        load(conn, "market_data", [*rows[:2], bad, *rows[3:]])
    result = load(conn, "market_data", rows)
    assert (result.offered, result.inserted) == (10, 8)
    assert copies[-4:] == [1, 3, 3, 1]  # the windows, the stored rows dropped from the first


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
def test_two_loads_of_overlapping_batches_at_once(migrated, conn, copies, staged, first_commits):
    """The second load's COPY waits on the first one's uncommitted keys; when they commit, the
    COPY is refused, undone, and the window staged: no duplicate, no raw unique violation."""
    first_rows = bars(conn, range(0, 6))
    second_rows = bars(conn, range(4, 10), close=7.0)  # hours 4 and 5 overlap
    results: list[LoadResult | BaseException] = []
    with psycopg.connect(migrated.libpq_url) as first:
        first.execute("SELECT 1")  # the first load stays uncommitted until we say
        assert load(first, "market_data", first_rows).inserted == 12

        def second() -> None:
            try:
                with psycopg.connect(migrated.libpq_url, autocommit=True) as other:
                    results.append(load(other, "market_data", second_rows))
            except BaseException as exc:  # reported by the assertion below
                results.append(exc)

        run_while_blocked(migrated, second, first.commit if first_commits else first.rollback)
    (result,) = results
    assert isinstance(result, LoadResult), result
    if first_commits:
        assert (result.offered, result.inserted) == (12, 8)
        assert staged == [12]  # the refused COPY's window went through ON CONFLICT
        assert closes(migrated) == [Decimal(2)] * 12 + [Decimal(7)] * 8
    else:
        assert (result.offered, result.inserted) == (12, 12)
        assert staged == []
        assert closes(migrated) == [Decimal(7)] * 12
