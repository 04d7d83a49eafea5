"""Rows from a file into the loader: CSV (and Parquet, with the optional pyarrow).

A CSV file is UTF-8 text (a byte-order mark is allowed) whose first line is a header naming
the columns; an empty field is NULL. Instruments and series may be named by their natural codes:
a `ticker` column in place of `instrument_id`, a `series_code` column in place of `series_id`,
resolved in the database before anything is written. Key columns are read as the values they
name (integers, numbers, dates), so the loader's append path can compare them with the stored
keys. Whatever is wrong with the file (its header, a field, a code no table holds) is one
UsageError naming the line and the column, and nothing is written; errors the loader or the
server report for row N name the file's line instead.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, TYPE_CHECKING, Any

from macroinfra.data.catalog import did_you_mean
from macroinfra.data.loader import LoadResult, load
from macroinfra.data.tables import LoadableTable, loadable_table
from macroinfra.errors import MacroinfraError, UsageError
from macroinfra.pg import Target, database_error, driver_connection

if TYPE_CHECKING:
    import psycopg

__all__ = ["FileLoadResult", "FileRows", "load_file", "read_rows"]

FORMATS = ("csv", "parquet")
MAX_LINE_CHARS = 1 << 20  # a longer line is refused, not read whole into memory
PROGRESS_ROWS = 50_000  # rows between two progress reports
# A code column: the id column it stands for, and the table that holds the codes.
CODES = {
    "ticker": ("instrument_id", "instruments"),
    "series_code": ("series_id", "series_metadata"),
}

Progress = Callable[[int, int, float], None]  # (rows read, rows inserted, seconds so far)
Reading = Callable[[int, float], None]  # (rows read, seconds since the start)


@dataclass(frozen=True)
class FileLoadResult:
    table: str
    file: str
    format: str
    offered: int  # rows in the file
    inserted: int  # rows that were new
    skipped: int  # rows whose natural key was already present
    seconds: float
    rows_per_second: float


@dataclass
class FileRows:
    """A file's rows as the loader takes them: values in the order of `columns`."""

    columns: tuple[str, ...]  # as the loader takes them (codes replaced by ids)
    rows: Iterator[list[Any]]
    codes: dict[int, str]  # position in `columns` of an id given by its code: the code column
    line_of: Callable[[int], int]  # row n (from 1) -> the line of the file it starts on
    unit: str = "line"  # what line_of counts: lines of a text file, rows of a Parquet file


def load_file(
    target: Target,
    table: str,
    stream: IO[bytes],
    *,
    format: str = "csv",
    name: str = "-",
    progress: Progress | None = None,
) -> FileLoadResult:
    """Load the rows of `stream` (bytes, in `format`) into `table` through the loader:
    idempotent, all or nothing, macro_series' revision rules."""
    import psycopg

    started = time.perf_counter()
    counts = [0, 0]  # rows read, rows inserted

    def read(rows: int, seconds: float) -> None:
        counts[0] = rows
        if progress is not None:
            progress(rows, counts[1], seconds)

    def written(offered: int, inserted: int) -> None:
        counts[1] = inserted
        if progress is not None:
            progress(counts[0], inserted, time.perf_counter() - started)

    source = read_rows(stream, table, format=format, progress=read, started=started)
    with driver_connection(target) as conn:
        if source.codes:
            try:
                with conn.transaction():
                    ids = {i: _ids(conn, CODES[code][1]) for i, code in source.codes.items()}
            except psycopg.Error as exc:
                raise database_error(exc, "reading the instrument and series codes") from None
            rows = _resolved(source, ids)
        else:
            rows = source.rows
        try:
            result: LoadResult = load(conn, table, rows, columns=source.columns, written=written)
        except MacroinfraError as exc:
            exc.message = _ROW.sub(
                lambda m: f"{m[1]}{source.unit} {source.line_of(int(m[2]))}", exc.message
            )
            raise
    seconds = time.perf_counter() - started
    return FileLoadResult(
        table=table,
        file=name,
        format=format,
        offered=result.offered,
        inserted=result.inserted,
        skipped=result.skipped,
        seconds=round(seconds, 6),
        rows_per_second=round(result.offered / seconds, 1) if seconds > 0 else 0.0,
    )


_ROW = re.compile(r"(\(|: )row (\d+)")


def read_rows(
    stream: IO[bytes],
    table: str,
    *,
    format: str = "csv",
    progress: Reading | None = None,
    started: float | None = None,
) -> FileRows:
    """The header checked now; the rows read, and each field checked, as they are consumed."""
    info = loadable_table(table)
    if format == "parquet":
        from macroinfra.data.parquet import parquet_rows

        (columns, codes), parsed = parquet_rows(
            stream, info, _columns, progress, started, PROGRESS_ROWS
        )
        return FileRows(columns, parsed, codes, lambda n: n, unit="row")
    if format != "csv":
        raise UsageError(f"no file format {format!r}", hint=f"use one of: {', '.join(FORMATS)}")
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    lines = _Lines(text)
    records = csv.reader(lines, strict=True)
    try:
        header = next(records, None)
    except (csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise _unreadable(1, exc) from None
    if header is None:
        raise UsageError(
            "the file is empty: a CSV file starts with a header row naming the columns",
            hint=f"{info.name} takes: {', '.join(info.columns)}",
        )
    columns, codes = _columns(info, [h.strip() for h in header])
    starts = array("Q")

    def line_of(n: int) -> int:
        return starts[n - 1] if 0 < n <= len(starts) else n + 1

    convert = [c for c in _converters(info, columns) if c[0] not in codes]  # ids come later
    width = len(columns)
    clock = started if started is not None else time.perf_counter()

    def rows() -> Iterator[list[Any]]:
        last = records.line_num
        append = starts.append
        n = 0
        try:
            for record in records:
                line = last + 1
                last = records.line_num
                if not record:
                    continue  # a blank line
                if len(record) != width:
                    raise UsageError(
                        f"line {line}: {len(record)} fields, and the header names {width}",
                        hint="every row gives one field for each column of the header; "
                        "quote a field that holds a comma",
                    )
                row = [None if v == "" else v for v in record]
                for i, parse, what in convert:
                    value = row[i]
                    if value is not None:
                        try:
                            row[i] = parse(value)
                        except (ValueError, InvalidOperation):
                            raise UsageError(
                                f"line {line}, column {header_name(i)}: {value!r} is not {what}"
                            ) from None
                append(line)
                n += 1
                if progress is not None and n % PROGRESS_ROWS == 0:
                    progress(n, time.perf_counter() - clock)
                yield row
        except (csv.Error, UnicodeDecodeError, ValueError) as exc:
            raise _unreadable(records.line_num + 1, exc) from None
        if progress is not None:
            progress(n, time.perf_counter() - clock)

    def header_name(i: int) -> str:
        return codes.get(i, columns[i])

    return FileRows(columns, rows(), codes, line_of)


class _Lines:
    """A text stream's lines, refusing one longer than MAX_LINE_CHARS before reading it
    whole."""

    def __init__(self, text: IO[str]) -> None:
        self.read = text.readline

    def __iter__(self) -> Iterator[str]:
        read = self.read
        while line := read(MAX_LINE_CHARS):
            if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
                raise ValueError(f"the line is longer than {MAX_LINE_CHARS:,} characters")
            yield line


def _unreadable(line: int, exc: BaseException) -> UsageError:
    if isinstance(exc, UnicodeDecodeError):
        what = f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})"
        hint = "give a CSV file in UTF-8; this one looks binary or in another encoding"
    else:
        what = str(exc)
        hint = "give a CSV file with a header row; quote fields that hold commas or newlines"
    return UsageError(f"line {line}: the file cannot be read as CSV: {what}", hint=hint)


def _columns(info: LoadableTable, header: list[str]) -> tuple[tuple[str, ...], dict[int, str]]:
    """The loader's columns for a header, and where a code stands for an id."""
    columns: list[str] = []
    codes: dict[int, str] = {}
    for i, name in enumerate(header):
        if name in CODES and CODES[name][0] in info.columns:
            codes[i] = name
            name = CODES[name][0]
        elif name not in info.columns:
            near = difflib.get_close_matches(name, [*info.columns, *_code_columns(info)], 1)
            raise UsageError(
                f"line 1, column {i + 1}: {info.name} has no column {name!r}"
                + (f" (did you mean {near[0]!r}?)" if near else ""),
                hint=f"{info.name} takes: {', '.join([*info.columns, *_code_columns(info)])}",
            )
        if name in columns:
            raise UsageError(
                f"line 1, column {i + 1}: {name!r} is given twice"
                + (f" (as {header[i]!r})" if i in codes else ""),
                hint="name each column once; a code column stands for its id column",
            )
        columns.append(name)
    return tuple(columns), codes


def _code_columns(info: LoadableTable) -> list[str]:
    return [code for code, (column, _) in CODES.items() if column in info.columns]


def _converters(
    info: LoadableTable, columns: tuple[str, ...]
) -> list[tuple[int, Callable[[str], Any], str]]:
    """(position, parse, what it must be) for the key columns the append path compares."""
    out: list[tuple[int, Callable[[str], Any], str]] = []
    for i, name in enumerate(columns):
        if name not in info.key_columns:
            continue
        if name in info.timestamptz_columns:
            out.append((i, _zoned, "a date and time with its time zone (2024-03-04T21:00:00Z)"))
        elif name in info.integer_columns:
            out.append((i, int, "an integer"))
        elif name in info.numeric_columns:  # numeric, not integer
            out.append((i, _decimal, "a number"))
        elif name in info.date_columns:
            out.append((i, date.fromisoformat, "a date (YYYY-MM-DD)"))
    return out


def _zoned(text: str) -> datetime:
    """ISO 8601 text that names its zone, as the datetime it names (read here, in the reading
    thread, so that the loader compares and copies values rather than text)."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError(text)
    return value


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def _ids(conn: psycopg.Connection[Any], table: str) -> dict[str, int | None]:
    """Code -> id; None for a series code held by several sources (ambiguous)."""
    if table == "instruments":
        rows = conn.execute("SELECT ticker, id FROM instruments").fetchall()
    else:
        rows = conn.execute("SELECT series_code, id FROM series_metadata").fetchall()
    ids: dict[str, int | None] = {}
    for code, id_ in rows:
        ids[code] = None if code in ids else id_
    return ids


def _resolved(source: FileRows, ids: dict[int, dict[str, int | None]]) -> Iterator[list[Any]]:
    """The rows with each code replaced by its id."""
    lookups = list(ids.items())
    for n, row in enumerate(source.rows, 1):
        for i, known in lookups:
            code = row[i]
            if code is None:
                continue
            id_ = known.get(code, 0)
            if not id_:
                raise _unknown_code(source.codes[i], code, known, source.line_of(n))
            row[i] = id_
        yield row


def _unknown_code(column: str, code: str, known: dict[str, int | None], line: int) -> UsageError:
    what = "ticker" if column == "ticker" else "series code"
    if code in known:  # held by several sources
        return UsageError(
            f"line {line}, column {column}: series code {code!r} exists in several sources",
            hint="give series_id in place of series_code for this file",
        )
    return UsageError(
        f"line {line}, column {column}: no {what} {code!r}"
        + (f" ({near})" if (near := did_you_mean(code, known)) else ""),
        hint=f"load the {'instruments' if column == 'ticker' else 'series_metadata'} rows "
        "first, or correct the code; nothing was written",
    )
