"""`macroinfra data load` (through the real Typer app): files in through the loader,
idempotently, all or nothing; every malformed file one line naming the line and the column, and
nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from helpers import Cli, error_lines, sql_rows

from macroinfra.data.loader import load

HEADER = "ticker,timestamp,frequency,open,high,low,close,volume"
BARS = [
    "SPX,2024-03-01T21:00:00Z,daily,1,3,1,2,10",
    "SPX,2024-03-04T21:00:00Z,daily,2,4,2,3,11",
    'EURUSD,2024-03-01 17:00:00-05:00,daily,1.08,1.09,1.07,"1.085",',
]


@pytest.fixture
def refs(migrated) -> Cli:
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        load(conn, "data_sources", [{"name": "test"}])
        load(
            conn,
            "instruments",
            [
                {"ticker": "SPX", "name": "S&P 500", "asset_class": "equity"},
                {"ticker": "EURUSD", "name": "Euro", "asset_class": "fx"},
            ],
        )
        (source,) = conn.execute("SELECT id FROM data_sources").fetchone()
        load(
            conn,
            "series_metadata",
            [{"source_id": source, "series_code": "CPI", "name": "CPI", "frequency": "monthly"}],
        )
    return Cli(migrated)


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def count(settings, table: str = "market_data") -> int:
    return sql_rows(settings, f"SELECT count(*) FROM {table}")[0][0]


def one_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in error_lines(result.stderr) if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_a_file_loads_with_tickers_resolved_and_a_reload_inserts_nothing(refs, migrated, tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(csv_text(*BARS))
    first = refs("data", "load", "market_data", str(path), "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    keys = ("table", "file", "format", "offered", "inserted", "skipped")
    assert {k: report[k] for k in keys} == {
        "table": "market_data",
        "file": str(path),
        "format": "csv",
        "offered": 3,
        "inserted": 3,
        "skipped": 0,
    }
    assert report["seconds"] > 0 and report["rows_per_second"] > 0
    assert sql_rows(
        migrated,
        "SELECT i.ticker, m.timestamp, m.close, m.volume FROM market_data m"
        " JOIN instruments i ON i.id = m.instrument_id ORDER BY 1, 2",
    ) == [
        ("EURUSD", datetime(2024, 3, 1, 22, tzinfo=UTC), Decimal("1.085"), None),
        ("SPX", datetime(2024, 3, 1, 21, tzinfo=UTC), 2, 10),
        ("SPX", datetime(2024, 3, 4, 21, tzinfo=UTC), 3, 11),
    ]
    again = refs("data", "load", "market_data", str(path))
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("market_data: inserted 0 of 3 rows (3 already present)")
    assert count(migrated) == 3


def test_standard_input_and_ids_as_well_as_codes(refs, migrated):
    (spx,) = sql_rows(migrated, "SELECT id FROM instruments WHERE ticker = 'SPX'")[0]
    text = csv_text(
        f"{spx},2024-03-05T21:00:00Z,daily,1,3,1,2,10",
        header=HEADER.replace("ticker", "instrument_id"),
    )
    result = refs("data", "load", "market_data", "-", "--json", input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 1
    result = refs("data", "load", "market_data", "-", input=csv_text(*BARS[:2]))
    assert result.exit_code == 0 and "inserted 2 of 2 rows" in result.stdout
    assert count(migrated) == 3


def test_macro_series_by_series_code_keeps_the_revision_rules(refs, migrated):
    header = "series_code,observation_date,value,release_time,revision_number"
    rows = ["CPI,2024-01-01,3.1,2024-02-14T13:30:00Z,0", "CPI,2024-01-01,3.2,2024-03-14T12:30Z,1"]
    result = refs("data", "load", "macro_series", "-", input=csv_text(*rows, header=header))
    assert result.exit_code == 0, result.output
    changed = csv_text("CPI,2024-01-01,9.9,2024-02-14T13:30:00Z,0", header=header)
    result = refs("data", "load", "macro_series", "-", input=changed)
    assert one_error(result, 1) == (
        "error: macro_series batch rejected: 1 row would change a published revision"
    )
    assert sql_rows(migrated, "SELECT value FROM macro_series ORDER BY revision_number") == [
        (Decimal("3.1"),),
        (Decimal("3.2"),),
    ]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            csv_text(BARS[0], BARS[1].replace("T21:00:00Z", " 21:00")),
            2,
            "error: line 3, column timestamp: '2024-03-04 21:00' is not a date and time with "
            "its time zone (2024-03-04T21:00:00Z)",
        ),
        (
            csv_text(BARS[0], BARS[1], BARS[1].replace(",3,11", ",three,11")),
            1,
            'error: loading market_data failed: invalid input syntax for type numeric: "three" '
            "(line 4, column close)",
        ),
        (
            csv_text(BARS[0], "SPY,2024-03-01T21:00:00Z,daily,1,3,1,2,10"),
            2,
            "error: line 3, column ticker: no ticker 'SPY' (did you mean 'SPX'?)",
        ),
        (
            csv_text(BARS[0], header=HEADER.replace("open", "colour")),
            2,
            "error: line 1, column 4: market_data has no column 'colour'",
        ),
        (
            csv_text(BARS[0], BARS[1] + ",12"),
            2,
            "error: line 3: 9 fields, and the header names 8",
        ),
        (
            csv_text(BARS[0], header=HEADER.replace("frequency", "ticker")),
            2,
            "error: line 1, column 3: 'instrument_id' is given twice (as 'ticker')",
        ),
        (
            "",
            2,
            "error: the file is empty: a CSV file starts with a header row naming the columns",
        ),
        (
            csv_text(BARS[0], "SPX,2024-03-01T22:00:00Z,daily,1,3,1,2," + "9" * (1 << 20)),
            2,
            "error: line 3: the file cannot be read as CSV: the line is longer than 1,048,576 "
            "characters",
        ),
        (
            csv_text(BARS[0], 'SPX,"2024-03-01T22:00:00Z,daily,1,3,1,2,10'),
            2,
            "error: line 4: the file cannot be read as CSV: unexpected end of data",
        ),
    ],
    ids=[
        "no zone",
        "bad number",
        "unknown ticker",
        "unknown column",
        "extra field",
        "twice",
        "empty",
        "huge line",
        "open quote",
    ],
)
def test_a_bad_file_is_one_line_and_writes_nothing(refs, migrated, text, code, message):
    result = refs("data", "load", "market_data", "-", input=text)
    assert one_error(result, code) == message
    assert count(migrated) == 0


def test_a_binary_file_is_one_line(refs, migrated, tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    line = one_error(refs("data", "load", "market_data", str(path)), 2)
    assert line.startswith("error: line 1: the file cannot be read as CSV: not UTF-8 text")
    nul = csv_text(BARS[0], "SPX,2024\x00,daily,1,3,1,2,10")
    line = one_error(refs("data", "load", "market_data", "-", input=nul), 2)
    assert line == (
        "error: line 3, column timestamp: '2024\\x00' is not a date and time with its time "
        "zone (2024-03-04T21:00:00Z)"
    )
    assert count(migrated) == 0


def test_a_missing_file_and_an_unknown_table_are_usage_errors(refs, tmp_path):
    missing = tmp_path / "nope.csv"
    line = one_error(refs("data", "load", "market_data", str(missing)), 2)
    assert line == f"error: cannot read {missing}: No such file or directory"
    line = one_error(refs("data", "load", "pg_class", "-", input=csv_text(BARS[0])), 2)
    assert line == "error: cannot load into 'pg_class': not a macroinfra table"


def test_json_failure_is_one_document(refs):
    result = refs("data", "load", "market_data", "-", "--json", input="")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["exit_code"] == 2


def test_parquet_needs_its_extra(refs, migrated, tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path = tmp_path / "bars.parquet"
        path.write_bytes(b"PAR1")
        line = one_error(refs("data", "load", "market_data", str(path), "--format", "parquet"), 2)
        assert line == "error: --format parquet needs pyarrow, which is not installed"
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bars.parquet"
    columns = HEADER.split(",")
    rows = [line.split(",") for line in BARS[:2]]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    pq.write_table(table, path)
    result = refs("data", "load", "market_data", str(path), "--format", "parquet", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 2
    assert count(migrated) == 2

    (spx,) = sql_rows(migrated, "SELECT id FROM instruments WHERE ticker = 'SPX'")[0]
    typed = {
        "instrument_id": pa.array([spx, spx], pa.int32()),
        "timestamp": pa.array(
            [datetime(2024, 3, 1, 21, tzinfo=UTC), datetime(2024, 3, 5, 21, tzinfo=UTC)],
            pa.timestamp("us", tz="UTC"),
        ),
        "frequency": ["daily", "daily"],
        "close": pa.array([Decimal("2"), Decimal("4.5")], pa.decimal128(10, 2)),
    }
    pq.write_table(pa.table(typed), path)
    again = refs("data", "load", "market_data", str(path), "--format", "parquet")
    assert again.exit_code == 0 and "inserted 1 of 2 rows" in again.stdout
    naive = {**typed, "timestamp": pa.array([datetime(2024, 3, 6, 21)] * 2, pa.timestamp("us"))}
    pq.write_table(pa.table(naive), path)
    line = one_error(refs("data", "load", "market_data", str(path), "--format", "parquet"), 2)
    assert line.startswith("error: loading market_data: row 1, column timestamp: 2024-03-06T21")
    path.write_bytes(b"not parquet at all")
    line = one_error(refs("data", "load", "market_data", str(path), "--format", "parquet"), 2)
    assert line.startswith("error: the file cannot be read as Parquet: ")
    assert count(migrated) == 3
