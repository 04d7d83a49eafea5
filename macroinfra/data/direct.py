"""The append path: new rows copied straight into the target table, window by window.

A hypertable batch (but macro_series, which is staged for its revision checks) is read in
windows of WINDOW_ROWS rows (the next window is read while the last is written). For each
window, one query on the table's indexes reads the natural keys stored in the window's time
range (for the instruments or series it names); the rows whose key is stored, or repeated
earlier in the batch, are dropped, and the others are copied straight into the table with a
plain COPY in a savepoint: no staging table, no ON CONFLICT. An append finds no stored key and
costs one index probe per window.

If a key turns out to be taken after all (written meanwhile by a concurrent session, whose
commit the COPY waits for; or a value the client could not compare with the stored one, such as
a date given as text), the server refuses the COPY with a unique violation: the savepoint undoes
every row of it, and the window takes the staging path (COPY into a temporary table, then
INSERT ... ON CONFLICT DO NOTHING). A window holding more stored keys than KEYS_PER_ROW per row
takes the staging path directly. The batch is still all or nothing: any other error ends the
whole transaction.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from macroinfra.data.tables import LoadableTable

if TYPE_CHECKING:
    import psycopg

WINDOW_ROWS = 25_000
KEYS_PER_ROW = 4  # stored keys read per window row at most; past that, the window is staged

Window = list[Sequence[Any]]


def load_direct(
    conn: psycopg.Connection[Any],
    cur: psycopg.Cursor[Any],
    info: LoadableTable,
    cols: tuple[str, ...],
    rows: Iterable[Sequence[Any]],
    staged: Callable[[Iterable[Sequence[Any]]], int],
    check: Callable[[Iterable[Sequence[Any]], Iterable[int]], Iterator[Sequence[Any]]],
    *,
    written: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Load `rows` window by window; return (rows offered, rows inserted). `staged(rows)`
    loads rows through the staging path and returns how many were new; `check(rows, numbers)`
    checks each row's values (numbered in the batch) as it is written; `written` hears (rows
    offered, rows inserted) after each window.

    The values are checked while COPY sends them, not before: the server's side of a COPY is
    the slower one, and the checks run in its shadow. A window whose times are not yet values
    to compare (text, to be read by the checks) is checked first, then compared."""
    from psycopg import sql

    into_table = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(info.name), sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    keys = _KeyReader(info, cols)
    offered = inserted = 0
    with _Prefetched(rows, WINDOW_ROWS) as windows:
        for window in windows:
            if written is not None and offered:
                written(offered, inserted)
            start = offered
            offered += len(window)
            numbers = range(start + 1, offered + 1)
            checked = not keys.comparable(window)
            if checked:
                window = list(check(window, numbers))
            checking = _as_is if checked else check
            new, positions = keys.new_rows(cur, window)
            with _numbered(info, start):
                if new is None:
                    inserted += staged(checking(window, numbers))
                    continue
            if not new:
                continue
            sent = numbers if positions is None else [numbers[p] for p in positions]
            with _numbered(info, start, positions):
                done = copy_in_savepoint(conn, cur, into_table, checking(new, sent))
            if done:
                inserted += len(new)
                continue
            with _numbered(info, start):
                inserted += staged(checking(window, numbers))
    return offered, inserted


class _Prefetched:
    """The windows of `rows`, each read (and its values checked) by a thread of its own while
    the one before is written, so that reading a file overlaps with the server's work. An
    error reading is raised where the window would have been; leaving the block stops the
    reader (once the window it is reading is read)."""

    def __init__(self, rows: Iterable[Sequence[Any]], size: int) -> None:
        import queue
        import threading

        self.rows = iter(rows)
        self.size = size
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="macroinfra-load-reader")

    def __enter__(self) -> Iterator[Window]:
        self.thread.start()
        return self._windows()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _windows(self) -> Iterator[Window]:
        while True:
            item = self.queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item

    def _read(self) -> None:
        try:
            while not self.stop.is_set():
                window = list(itertools.islice(self.rows, self.size))
                self._put(window)
                if not window:
                    return
        except BaseException as exc:  # handed to the writer, which raises it
            self._put(exc)

    def _put(self, item: Any) -> None:
        import queue

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


@contextmanager
def _numbered(
    info: LoadableTable, start: int, positions: list[int] | None = None
) -> Iterator[None]:
    """A server error naming a row of a COPY names the row of the batch instead: the window
    starts after row `start` of the batch, and the COPY sent the window's rows at `positions`
    (None: all of them)."""

    def row(n: int) -> int:
        return start + (positions[n - 1] + 1 if positions else n)

    import psycopg

    from macroinfra.pg import database_error

    try:
        yield
    except psycopg.Error as exc:
        error = database_error(exc, f"loading {info.name}", table=info.name)
        error.message = _COPY_ROW.sub(lambda m: f"(row {row(int(m[1]))}", error.message)
        raise error from None


_COPY_ROW = re.compile(r"\(row (\d+)")


def _first(key: tuple[Any, ...], seen: set[tuple[Any, ...]]) -> bool:
    """Whether `key` is not in `seen` (which then holds it): a row neither stored nor repeated."""
    if key in seen:
        return False
    seen.add(key)
    return True


def _as_is(rows: Iterable[Sequence[Any]], numbers: Iterable[int]) -> Iterable[Sequence[Any]]:
    """Rows already checked, as they are."""
    return rows


def copy_in_savepoint(
    conn: psycopg.Connection[Any],
    cur: psycopg.Cursor[Any],
    statement: Any,
    rows: Iterable[Sequence[Any]],
) -> bool:
    """COPY `rows` in a savepoint; False (and nothing of it left) if a natural key was taken."""
    import psycopg.errors

    try:
        with conn.transaction(), cur.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
        return False
    return True


class _KeyReader:
    """Reads the natural keys stored in a window's time range, and drops the rows that have
    one."""

    def __init__(self, info: LoadableTable, cols: tuple[str, ...]) -> None:
        from psycopg import sql

        assert info.time_column is not None
        self.time = cols.index(info.time_column)
        key = [cols.index(c) if c in cols else None for c in info.key_columns]
        # A row's natural key as the tuple the query reads back (None for a column not given).
        if None not in key and len(key) > 1:
            self.key_of: Callable[[Sequence[Any]], tuple[Any, ...]] = operator.itemgetter(*key)
        else:
            self.key_of = lambda row: tuple(None if i is None else row[i] for i in key)
        # The first key column that names an instrument or a series (an id) narrows the read.
        self.narrow = next(
            (
                cols.index(c)
                for c in info.key_columns
                if c in cols and c.endswith("_id") and c in info.not_null_columns
            ),
            None,
        )
        table = sql.Identifier(info.name)
        # Read in binary (no text to parse); an enumeration's value as its text.
        enums = {c for c, _ in info.enum_columns}
        keys = sql.SQL(", ").join(
            sql.SQL("{}::text" if c in enums else "{}").format(sql.Identifier(c))
            for c in info.key_columns
        )
        when = sql.SQL("{} BETWEEN %s AND %s").format(sql.Identifier(info.time_column))
        self.query = sql.SQL("SELECT {} FROM {} WHERE {}").format(keys, table, when)
        if self.narrow is not None:
            self.query += sql.SQL(" AND {} = ANY(%s)").format(sql.Identifier(cols[self.narrow]))
        self.query += sql.SQL(" LIMIT %s")
        self.kind = datetime if info.time_column in info.timestamptz_columns else date

    def comparable(self, window: Window) -> bool:
        """Whether the window's times are values of the time column's type to compare (not
        text, nor a timestamp without its zone: the checks read or refuse those first)."""
        kind, i = self.kind, self.time
        if kind is datetime:
            return all(r[i].__class__ is datetime and r[i].tzinfo is not None for r in window)
        return all(r[i].__class__ is kind for r in window)

    def new_rows(
        self, cur: psycopg.Cursor[Any], window: Window
    ) -> tuple[Window | None, list[int] | None]:
        """The rows of `window` whose key is neither stored nor earlier in the window, and
        their positions in it (None: all of them); the whole window when its times cannot be
        compared here (the savepoint decides); None when too many keys are stored to read them
        (the window is staged)."""
        times = [row[self.time] for row in window]
        if {t.__class__ for t in times} != {self.kind}:
            return window, None
        params: list[Any] = [min(times), max(times)]
        if self.narrow is not None:
            ids = {row[self.narrow] for row in window}
            if {i.__class__ for i in ids} != {int}:
                return window, None
            params.append(sorted(ids))
        cap = KEYS_PER_ROW * len(window)
        params.append(cap + 1)
        cur.execute(self.query, params, binary=True)
        stored = set(cur.fetchall())
        if not stored:
            return window, None
        if len(stored) > cap:
            return None, None
        positions = [n for n, k in enumerate(map(self.key_of, window)) if _first(k, stored)]
        return [window[n] for n in positions], positions
