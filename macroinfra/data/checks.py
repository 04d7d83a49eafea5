"""What a value must be to be loaded, checked as the rows stream to COPY.

A refusal names the table, the row (counted from 1 in the batch) and the column, and the load
writes nothing. Refused:
- NULL in a NOT NULL column (the server would name an internal chunk, and no row);
- a timestamptz value without a time zone: a naive datetime, a date, or text that is not an
  ISO 8601 date and time with its zone (text without one would be read in whatever time zone
  the session has);
- NaN or an infinity in an integer or numeric column, as a float, a Decimal or text: numeric
  stores them, but no observation is one, and JSON cannot carry them;
- a negative count (macro_series.revision_number: the first release is revision 0);
- a value outside its column's enumeration.
JSON values are wrapped for COPY on the way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from macroinfra.data.tables import LoadableTable
from macroinfra.errors import UsageError

NAIVE_HINT = "give timezone-aware datetimes (e.g. tzinfo=timezone.utc)"
TEXT_TIME_HINT = (
    "give a timezone-aware datetime, or ISO 8601 text with its zone: 2024-05-01T14:30:00Z "
    "or 2024-05-01 08:30:00-04:00"
)
NAN_HINT = "NaN and infinities are not stored: give a number, or None where the value is missing"


def checked_rows(
    rows: Iterable[Sequence[Any]],
    info: LoadableTable,
    cols: tuple[str, ...],
    numbers: Iterable[int] | None = None,
) -> Iterator[Sequence[Any]]:
    """`rows` (sequences in `cols` order), each checked; a UsageError at the first bad value,
    naming the row by its number in `numbers` (default: 1, 2, ...)."""
    from psycopg.types.json import Jsonb

    def where(names: Sequence[str]) -> list[int]:
        return [cols.index(c) for c in names if c in cols]

    not_null = where(info.not_null_columns)
    zoned = where(info.timestamptz_columns)
    numeric = where(info.numeric_columns)
    counts = where(info.non_negative_columns)
    js = where(info.json_columns)
    enums = [
        (cols.index(c), enum, frozenset([None, *(m.value for m in enum)]))
        for c, enum in info.enum_columns
        if c in cols
    ]

    def refuse(n: int, i: int, what: str, hint: str | None = None) -> UsageError:
        return UsageError(f"loading {info.name}: row {n}, column {cols[i]}: {what}", hint=hint)

    isfinite = math.isfinite
    for n, row in zip(itertools.count(1) if numbers is None else numbers, rows, strict=False):
        for i in not_null:
            if row[i] is None:
                raise refuse(n, i, "None (NULL), and the column is NOT NULL", _needs(info, cols))
        for i in numeric:  # the usual types first, by their exact class: this runs per value
            value = row[i]
            kind = value.__class__
            if kind is float:
                if isfinite(value):
                    continue
            elif kind is int or value is None:
                continue
            elif kind is str and "n" not in value and "N" not in value:
                continue  # text: every spelling of NaN and the infinities has an n
            elif _finite(value):
                continue
            raise refuse(n, i, f"{value!r} is not a finite number", NAN_HINT)
        for i in counts:
            if _negative(row[i]):
                raise refuse(
                    n, i, f"{row[i]!r} is negative", "revisions count from 0, the first release"
                )
        for i, enum, allowed in enums:
            try:
                valid = row[i] in allowed
            except TypeError:  # unhashable: no enumeration's value
                valid = False
            if not valid:
                raise refuse(
                    n,
                    i,
                    f"{row[i]!r} is not a value of {enum.__name__}",
                    f"{cols[i]} takes one of: {', '.join(m.value for m in enum)}",
                )
        texts = [i for i in zoned if not _aware(row[i])] if zoned else ()
        if texts or js:
            row = list(row)
            for i in texts:
                row[i], problem = _instant(row[i])
                if problem is not None:
                    raise refuse(n, i, *problem)
            for i in js:
                if row[i] is not None and not isinstance(row[i], Jsonb):
                    row[i] = Jsonb(row[i])
        yield row


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _needs(info: LoadableTable, cols: tuple[str, ...]) -> str:
    return f"give every row a value for: {', '.join(c for c in info.not_null_columns if c in cols)}"


def _finite(value: Any) -> bool:
    """Whether a value bound for a numeric column is a finite number, as far as can be told:
    text that is no number at all is the server's to refuse (with its row and column)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, str):
        try:
            return Decimal(value.strip()).is_finite()
        except InvalidOperation:
            return True
    return True


def _negative(value: Any) -> bool:
    if isinstance(value, int | float | Decimal):
        return value < 0
    if isinstance(value, str):
        try:
            return Decimal(value.strip()) < 0
        except InvalidOperation:
            return False
    return False


def _instant(value: Any) -> tuple[Any, tuple[str, str] | None]:
    """A timestamptz value that is not an aware datetime, as it goes to COPY: None, or ISO 8601
    text with its zone (as the datetime it names); else what is wrong with it, and the fix."""
    if value is None:
        return None, None
    if isinstance(value, datetime):  # naive
        return value, (f"{value.isoformat()} has no time zone", NAIVE_HINT)
    if isinstance(value, date):
        return value, (f"{value.isoformat()} is a date, with no time and no zone", NAIVE_HINT)
    if not isinstance(value, str):
        return value, None  # the server refuses what it cannot read, naming row and column
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value, (f"{value!r} is not an ISO 8601 date and time", TEXT_TIME_HINT)
    if parsed.tzinfo is None:
        return value, (f"{value!r} has no time zone", TEXT_TIME_HINT)
    return parsed, None
