"""The bulk loader: idempotent writes into every table, values checked as they stream.

The point-in-time rules for macro_series revisions are in test_revisions.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from helpers import run_while_blocked, sql_rows

from macroinfra.data.loader import LoadResult, load
from macroinfra.data.tables import loadable_table
from macroinfra.errors import OperationError, UsageError
from macroinfra.models.enums import Frequency
from macroinfra.timescale.spec import ALL_TABLES, HYPERTABLES

T0 = datetime(2024, 1, 15, 12, 30, tzinfo=UTC)
MACRO = ("series_id", "observation_date", "value", "release_time", "revision_number")


@pytest.fixture
def conn(migrated):
    """Autocommit: each load runs in a transaction of its own and commits."""
    with psycopg.connect(migrated.libpq_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def refs(conn) -> dict[str, int]:
    """One data source, two instruments, two series: what the hypertables refer to."""
    load(conn, "data_sources", [{"name": "test", "description": "a test source"}])
    (source,) = conn.execute("SELECT id FROM data_sources").fetchone()
    load(
        conn,
        "instruments",
        [
            {"ticker": "EURUSD", "name": "Euro / US dollar", "asset_class": "fx"},
            {"ticker": "SPX", "name": "S&P 500", "asset_class": "equity", "country": "US"},
        ],
    )
    load(
        conn,
        "series_metadata",
        [
            {"source_id": source, "series_code": "CPI", "name": "CPI", "frequency": "monthly"},
            {"source_id": source, "series_code": "FLOWS", "name": "Flows", "frequency": "weekly"},
        ],
    )
    ids = dict(conn.execute("SELECT ticker, id FROM instruments").fetchall())
    ids |= dict(conn.execute("SELECT series_code, id FROM series_metadata").fetchall())
    return {"source": source, **ids}


def hypertable_rows(refs: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Two rows for every hypertable (the second differs only in its time column)."""
    d1, d2 = date(2023, 3, 31), date(2024, 3, 29)
    rows = {
        "market_data": [
            {
                "instrument_id": refs["SPX"],
                "timestamp": _at(d),
                "frequency": "daily",
                "open": 1.5,
                "high": Decimal("2.25"),
                "low": 1,
                "close": 2,
                "volume": 10,
                "adjusted_close": None,
            }
            for d in (d1, d2)
        ],
        "macro_series": [
            {
                "series_id": refs["CPI"],
                "observation_date": d,
                "value": 3.1,
                "release_time": _at(d + timedelta(days=14)),
                "revision_number": 0,
            }
            for d in (d1, d2)
        ],
        "curves": [
            {
                "curve_id": "US_TSY",
                "curve_date": d,
                "curve_type": "nominal",
                "tenor_days": 3652,
                "tenor_label": "10Y",
                "rate": 4.25,
                "country": "US",
            }
            for d in (d1, d2)
        ],
        "flow_data": [
            {
                "series_id": refs["FLOWS"],
                "observation_date": d,
                "flow_type": "etf",
                "value": -120.5,
                "unit": "USD mn",
            }
            for d in (d1, d2)
        ],
        "fiscal_data": [
            {
                "series_id": refs["FLOWS"],
                "observation_date": d,
                "fiscal_metric": "deficit",
                "value": 150,
                "unit": "USD bn",
            }
            for d in (d1, d2)
        ],
        "vol_surfaces": [
            {
                "instrument_id": refs["EURUSD"],
                "surface_date": d,
                "delta": 0.25,
                "tenor_days": 30,
                "implied_vol": 0.081,
            }
            for d in (d1, d2)
        ],
        "signals": [
            {
                "signal_date": d,
                "signal_type": "risk_appetite",
                "instrument_id": None,
                "series_id": None,
                "value": 0.4,
                "confidence": 0.9,
                "metadata": {"model": "test", "inputs": [1, 2]},
            }
            for d in (d1, d2)
        ],
    }
    assert set(rows) == {h.table for h in HYPERTABLES}
    return rows


def _at(day: date, hour: int = 21) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def count(settings, table: str) -> int:
    return sql_rows(settings, f"SELECT count(*) FROM {table}")[0][0]


# -- what the loader knows about the tables --------------------------------------------------


def test_every_natural_key_is_a_unique_constraint_of_the_database(migrated):
    constraints = {
        (table, name): columns
        for table, name, columns in sql_rows(
            migrated,
            "SELECT c.conrelid::regclass::text, c.conname,"
            " array_agg(a.attname::text ORDER BY k.ord)"
            " FROM pg_constraint c"
            " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            " WHERE c.contype = 'u' AND c.connamespace = 'public'::regnamespace"
            " GROUP BY 1, 2",
        )
    }
    for table in ALL_TABLES:
        info = loadable_table(table)
        assert constraints[(table, info.natural_key)] == list(info.key_columns), table
    assert loadable_table("data_sources").natural_key == "uq_data_sources_name"
    assert loadable_table("instruments").natural_key == "uq_instruments_ticker"
    assert (
        loadable_table("series_metadata").natural_key == "uq_series_metadata_source_id_series_code"
    )
    assert "id" not in loadable_table("market_data").columns
    assert "created_at" not in loadable_table("instruments").columns


# -- idempotent writes -----------------------------------------------------------------------


def test_loading_the_same_batch_twice_inserts_nothing_the_second_time(migrated, conn, refs):
    for table in ("data_sources", "instruments", "series_metadata"):
        existing = count(migrated, table)
        again = {
            "data_sources": [{"name": "test", "description": "changed text is not written"}],
            "instruments": [{"ticker": "SPX", "name": "S&P 500", "asset_class": "equity"}],
            "series_metadata": [
                {
                    "source_id": refs["source"],
                    "series_code": "CPI",
                    "name": "CPI",
                    "frequency": "monthly",
                }
            ],
        }[table]
        assert load(conn, table, again).inserted == 0
        assert count(migrated, table) == existing
    assert sql_rows(migrated, "SELECT description FROM data_sources") == [("a test source",)]

    for table, rows in hypertable_rows(refs).items():
        first = load(conn, table, rows)
        second = load(conn, table, rows)
        assert (first.offered, first.inserted) == (2, 2), table
        assert (second.offered, second.inserted, second.skipped) == (2, 0, 2), table
        assert count(migrated, table) == 2, table


def test_a_stored_row_is_never_overwritten(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    load(conn, "market_data", [bar])
    result = load(conn, "market_data", [{**bar, "close": 99}])
    assert result.inserted == 0
    assert sql_rows(migrated, "SELECT close FROM market_data") == [(Decimal("2.00000000"),)]


def test_a_key_repeated_within_a_batch_is_inserted_once(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    result = load(conn, "market_data", [bar, bar, {**bar, "close": 3}])
    assert (result.offered, result.inserted) == (3, 1)
    assert count(migrated, "market_data") == 1


def test_market_wide_signals_with_no_instrument_are_still_deduplicated(migrated, conn, refs):
    signal = hypertable_rows(refs)["signals"][0]
    assert signal["instrument_id"] is None
    assert load(conn, "signals", [signal]).inserted == 1
    assert load(conn, "signals", [signal]).inserted == 0  # NULLS NOT DISTINCT
    omitted = {k: v for k, v in signal.items() if k not in ("instrument_id", "series_id")}
    assert load(conn, "signals", [omitted]).inserted == 0  # a nullable key column may be left out
    assert sql_rows(migrated, "SELECT metadata FROM signals") == [
        ({"model": "test", "inputs": [1, 2]},)
    ]


def test_rows_as_sequences_with_named_columns(migrated, conn, refs):
    rows = [
        (refs["CPI"], date(2020, m, 1), m / 10, _at(date(2020, m, 15)), 0) for m in range(1, 13)
    ]
    result = load(conn, "macro_series", rows, columns=MACRO)
    assert isinstance(result, LoadResult)
    assert (result.table, result.offered, result.inserted) == ("macro_series", 12, 12)
    assert count(migrated, "macro_series") == 12
    assert load(conn, "macro_series", iter(rows), columns=MACRO).inserted == 0


def test_an_empty_batch_does_nothing(conn, refs):
    result = load(conn, "market_data", [])
    assert (result.offered, result.inserted) == (0, 0)
    assert load(conn, "macro_series", [], columns=MACRO).offered == 0


def test_a_database_target_commits_and_a_callers_transaction_decides(migrated, conn, refs):
    from sqlalchemy import text

    from macroinfra.db import Database

    rows = hypertable_rows(refs)["curves"]
    db = Database(migrated)
    try:
        assert load(db, "curves", rows[:1]).inserted == 1  # commits on a pooled connection
        assert count(migrated, "curves") == 1
        with db.engine.connect() as sa_conn:  # a SQLAlchemy connection: the caller commits
            sa_conn.execute(text("SELECT 1"))
            assert load(sa_conn, "curves", rows[1:]).inserted == 1
            sa_conn.rollback()
        assert count(migrated, "curves") == 1
    finally:
        db.dispose()
    with psycopg.connect(migrated.libpq_url) as other:
        other.execute("SELECT 1")  # a psycopg transaction is open: the load joins it
        assert load(other, "curves", rows[1:]).inserted == 1
        other.rollback()
    assert count(migrated, "curves") == 1


# -- refused batches -------------------------------------------------------------------------


def test_bad_batches_are_usage_errors_and_load_nothing(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    with pytest.raises(UsageError, match="not a macroinfra table"):
        load(conn, "pg_class", [bar])
    with pytest.raises(UsageError, match="no column 'colour'"):
        load(conn, "market_data", [{**bar, "colour": "red"}])
    with pytest.raises(UsageError, match="lacks column 'frequency'"):
        load(conn, "market_data", [{k: v for k, v in bar.items() if k != "frequency"}])
    with pytest.raises(UsageError, match="columns must be named"):
        load(conn, "market_data", [tuple(bar.values())])
    with pytest.raises(UsageError, match="row 2 has no value for column 'close'"):
        load(conn, "market_data", [bar, {k: v for k, v in bar.items() if k != "close"}])
    naive = {**bar, "timestamp": datetime(2024, 1, 2, 21)}
    with pytest.raises(UsageError, match="row 2, column timestamp: 2024-01-02T21:00:00 has no"):
        load(conn, "market_data", [bar, naive])
    assert count(migrated, "market_data") == 0


def test_a_value_outside_its_enumeration_is_refused_naming_row_and_column(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    later = {**bar, "timestamp": bar["timestamp"] + timedelta(days=1)}
    with pytest.raises(UsageError) as caught:
        load(conn, "market_data", [bar, later, {**later, "frequency": "fortnightly"}])
    assert caught.value.message == (
        "loading market_data: row 3, column frequency: 'fortnightly' is not a value of Frequency"
    )
    assert caught.value.hint.startswith("frequency takes one of: tick, minute, hourly, daily")
    assert count(migrated, "market_data") == 0  # nothing written, not even rows 1 and 2

    instrument = {"ticker": "BUND", "name": "Bund", "asset_class": "rates", "country": "XX"}
    with pytest.raises(UsageError, match=r"row 1, column country: 'XX' is not a value of Country"):
        load(conn, "instruments", [instrument])
    with pytest.raises(
        UsageError, match=r"row 1, column asset_class: 3 is not a value of AssetClass"
    ):
        load(conn, "instruments", [{**instrument, "country": None, "asset_class": 3}])
    # Members and their string values are both accepted; NULL stays NULL.
    assert load(conn, "instruments", [{**instrument, "country": None}]).inserted == 1
    assert load(conn, "market_data", [{**bar, "frequency": Frequency.DAILY}]).inserted == 1
    assert sql_rows(migrated, "SELECT frequency FROM market_data") == [("daily",)]


def test_a_failed_load_leaves_nothing_behind_and_says_why(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    with pytest.raises(OperationError) as caught:
        load(conn, "market_data", [bar, {**bar, "instrument_id": 9999, "frequency": "hourly"}])
    assert 'Key (instrument_id)=(9999) is not present in table "instruments"' in str(caught.value)
    assert caught.value.exit_code == 1
    with pytest.raises(OperationError, match=r"invalid input syntax.*\(row 1, column close\)"):
        load(conn, "market_data", [{**bar, "close": "two"}])
    assert count(migrated, "market_data") == 0
    assert load(conn, "market_data", [bar]).inserted == 1  # the connection is still usable


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("-Infinity"),
        "NaN",
        " inf ",
    ],
    ids=repr,
)
def test_nan_and_infinities_are_refused_naming_row_and_column(migrated, conn, refs, value):
    bars = hypertable_rows(refs)["market_data"]
    with pytest.raises(UsageError) as caught:
        load(conn, "market_data", [bars[0], {**bars[1], "high": value}])
    assert caught.value.message == (
        f"loading market_data: row 2, column high: {value!r} is not a finite number"
    )
    assert "NaN and infinities are not stored" in caught.value.hint
    series = hypertable_rows(refs)["macro_series"][0]
    with pytest.raises(UsageError, match="row 1, column value: .* is not a finite number"):
        load(conn, "macro_series", [{**series, "value": value}])
    with pytest.raises(UsageError, match="row 1, column volume: .* is not a finite number"):
        load(conn, "market_data", [{**bars[0], "volume": value}])
    assert count(migrated, "market_data") == count(migrated, "macro_series") == 0


def test_a_negative_revision_number_is_refused(migrated, conn, refs):
    row = {**hypertable_rows(refs)["macro_series"][0], "revision_number": -1}
    with pytest.raises(UsageError) as caught:
        load(conn, "macro_series", [row])
    assert caught.value.message == (
        "loading macro_series: row 1, column revision_number: -1 is negative"
    )
    with pytest.raises(UsageError, match="row 1, column revision_number: '-2' is negative"):
        load(
            conn, "macro_series", [tuple({**row, "revision_number": "-2"}.values())], columns=MACRO
        )
    assert count(migrated, "macro_series") == 0


@pytest.mark.parametrize("text", ["2024-01-02 21:00:00", "2024-01-02T21:00", "2024-01-02"])
def test_a_timestamp_text_without_a_zone_is_refused_like_a_naive_datetime(
    migrated, conn, refs, text
):
    bar = hypertable_rows(refs)["market_data"][0]
    with pytest.raises(UsageError) as caught:
        load(conn, "market_data", [{**bar, "timestamp": text}])
    assert caught.value.message == (
        f"loading market_data: row 1, column timestamp: {text!r} has no time zone"
    )
    release = hypertable_rows(refs)["macro_series"][0]
    with pytest.raises(UsageError, match="row 1, column release_time: .* has no time zone"):
        load(conn, "macro_series", [{**release, "release_time": text}])
    assert count(migrated, "market_data") == count(migrated, "macro_series") == 0


def test_timestamp_text_with_its_zone_is_loaded_and_other_text_refused(migrated, conn, refs):
    bar = hypertable_rows(refs)["market_data"][0]
    with pytest.raises(UsageError, match=r"'yesterday' is not an ISO 8601 date and time"):
        load(conn, "market_data", [{**bar, "timestamp": "yesterday"}])
    with pytest.raises(UsageError, match=r"column timestamp: 2024-01-02 is a date"):
        load(conn, "market_data", [{**bar, "timestamp": date(2024, 1, 2)}])
    assert load(conn, "market_data", [{**bar, "timestamp": "2024-01-02 21:00+02:00"}]).inserted
    assert sql_rows(migrated, "SELECT timestamp FROM market_data") == [
        (datetime(2024, 1, 2, 19, tzinfo=UTC),)
    ]


def test_null_in_a_not_null_column_names_the_table_and_the_row_not_a_chunk(migrated, conn, refs):
    bars = hypertable_rows(refs)["market_data"]
    with pytest.raises(UsageError) as caught:
        load(conn, "market_data", [bars[0], {**bars[1], "close": None}])
    assert caught.value.message == (
        "loading market_data: row 2, column close: None (NULL), and the column is NOT NULL"
    )
    assert caught.value.hint == (
        "give every row a value for: timestamp, instrument_id, frequency, close"
    )
    row = {**hypertable_rows(refs)["macro_series"][0], "revision_number": None}
    with pytest.raises(UsageError, match="row 1, column revision_number: None"):
        load(conn, "macro_series", [row])
    assert count(migrated, "market_data") == count(migrated, "macro_series") == 0


def test_a_server_error_about_a_chunk_names_the_hypertable(migrated, conn, refs):
    from macroinfra.pg import database_error

    bar = hypertable_rows(refs)["market_data"][0]
    with pytest.raises(psycopg.errors.NotNullViolation) as caught:
        conn.execute(
            "INSERT INTO market_data (instrument_id, timestamp, frequency)"
            " VALUES (%s, %s, 'daily')",
            (bar["instrument_id"], bar["timestamp"]),
        )
    assert "_hyper_" in str(caught.value)  # what the server says
    error = database_error(caught.value, "loading market_data", table="market_data")
    assert error.message == (
        'loading market_data failed: null value in column "close" of relation "market_data" '
        "violates not-null constraint"
    )


# -- compressed chunks (Community edition only) ----------------------------------------------


def test_loading_into_a_compressed_chunk(migrated, conn, refs):
    (license_,) = conn.execute("SELECT current_setting('timescaledb.license')").fetchone()
    if license_ != "timescale":
        pytest.skip(f"compression needs the Community edition; this server is {license_!r}")
    rows = hypertable_rows(refs)["macro_series"]
    load(conn, "macro_series", rows)
    conn.execute("SELECT compress_chunk(c) FROM show_chunks('macro_series') c")
    conn.commit()
    assert load(conn, "macro_series", rows).inserted == 0
    newer = {
        **rows[0],
        "revision_number": 1,
        "release_time": rows[0]["release_time"] + timedelta(days=30),
    }  # noqa: E501
    assert load(conn, "macro_series", [newer]).inserted == 1
    assert count(migrated, "macro_series") == 3


def test_two_sessions_loading_the_same_batch_insert_it_once(migrated, refs):
    """The second session waits on the first one's uncommitted keys, then skips them."""
    rows = hypertable_rows(refs)["market_data"]
    results: list[LoadResult] = []
    with psycopg.connect(migrated.libpq_url) as first:
        first.execute("SELECT 1")  # open a transaction: the load below stays uncommitted
        assert load(first, "market_data", rows).inserted == 2

        def second() -> None:
            with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
                results.append(load(conn, "market_data", rows))

        run_while_blocked(migrated, second, first.commit)
    assert [(r.offered, r.inserted) for r in results] == [(2, 0)]
    assert count(migrated, "market_data") == 2
