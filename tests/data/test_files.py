"""macroinfra.data.files: a file's rows as the loader takes them, errors named by the file's
line, progress reported as rows are read."""

from __future__ import annotations

import datetime
import io

import psycopg
import pytest
from helpers import sql_rows

from macroinfra.data import direct, files
from macroinfra.data.files import load_file, read_rows
from macroinfra.data.loader import load
from macroinfra.errors import UsageError

HEADER = "curve_id,curve_date,curve_type,tenor_days,rate"


def data(*lines: str, header: str = HEADER, bom: bool = False) -> io.BytesIO:
    text = "\n".join([header, *lines]) + "\n"
    return io.BytesIO(("\ufeff" if bom else "").encode() + text.encode())


def test_key_columns_are_read_as_their_values_and_blank_lines_skipped():
    source = read_rows(
        data("US_TSY,2024-01-02,nominal,3652,4.25", "", "US_TSY,2024-01-03,,30,"), "curves"
    )
    assert source.columns == ("curve_id", "curve_date", "curve_type", "tenor_days", "rate")
    assert list(source.rows) == [
        ["US_TSY", datetime.date(2024, 1, 2), "nominal", 3652, "4.25"],
        ["US_TSY", datetime.date(2024, 1, 3), None, 30, None],
    ]
    assert [source.line_of(1), source.line_of(2)] == [2, 4]


def test_a_byte_order_mark_is_not_part_of_the_header():
    source = read_rows(data("US_TSY,2024-01-02,nominal,3652,4.25", bom=True), "curves")
    assert source.columns[0] == "curve_id" and len(list(source.rows)) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("US_TSY,2024-13-02,nominal,3652,1", "line 3, column curve_date: '2024-13-02' is not"),
        ("US_TSY,2024-01-02,nominal,ten,1", "line 3, column tenor_days: 'ten' is not an integer"),
    ],
)
def test_a_key_value_that_is_not_one_names_line_and_column(line, message):
    source = read_rows(data("US_TSY,2024-01-01,nominal,30,1", line), "curves")
    with pytest.raises(UsageError, match=message):
        list(source.rows)


@pytest.fixture
def conn(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as connection:
        yield connection


def test_a_quoted_field_over_several_lines_keeps_the_line_numbers(migrated, conn):
    text = data(
        'US_TSY,2024-01-02,"nominal",3652,4.25',
        '"A CURVE',
        'ON TWO LINES",2024-01-03,nominal,30,1',
        "US_TSY,2024-01-04,nominal,30,NaN",
    )
    with pytest.raises(UsageError) as caught:
        load_file(conn, "curves", text)
    assert caught.value.message == (
        "loading curves: line 5, column rate: 'NaN' is not a finite number"
    )
    assert sql_rows(migrated, "SELECT count(*) FROM curves") == [(0,)]


def test_progress_is_reported_as_rows_are_read(conn, monkeypatch):
    monkeypatch.setattr(files, "PROGRESS_ROWS", 2)
    monkeypatch.setattr(direct, "WINDOW_ROWS", 3)
    seen: list[tuple[int, int]] = []
    lines = [f"US_TSY,2024-01-{d:02d},nominal,30,1" for d in range(1, 6)]
    load_file(conn, "curves", data(*lines[:1]))
    result = load_file(
        conn, "curves", data(*lines), progress=lambda n, inserted, s: seen.append((n, inserted))
    )
    # rows read: every PROGRESS_ROWS rows and at the end (the reader runs a window ahead);
    # rows inserted: after each window of 3 (the first holds the stored row), and at the end
    read, inserted = [n for n, _ in seen], [i for _, i in seen]
    assert set(read) == {2, 4, 5} and read == sorted(read)
    assert 2 in inserted and inserted == sorted(inserted)
    assert seen[-1] == (5, 4)
    assert (result.offered, result.inserted, result.skipped) == (5, 4, 1)
    assert result.format == "csv" and result.file == "-"


def test_a_series_code_in_two_sources_is_refused(migrated, conn):
    load(conn, "data_sources", [{"name": "a"}, {"name": "b"}])
    ids = [i for (i,) in conn.execute("SELECT id FROM data_sources ORDER BY name")]
    load(
        conn,
        "series_metadata",
        [
            {"source_id": i, "series_code": "GDP", "name": "GDP", "frequency": "quarterly"}
            for i in ids
        ],
    )
    header = "series_code,observation_date,flow_type,value"
    with pytest.raises(UsageError) as caught:
        load_file(conn, "flow_data", data("GDP,2024-01-01,etf,1", header=header))
    assert caught.value.message == (
        "line 2, column series_code: series code 'GDP' exists in several sources"
    )
    assert caught.value.hint == "give series_id in place of series_code for this file"
    assert sql_rows(migrated, "SELECT count(*) FROM flow_data") == [(0,)]
