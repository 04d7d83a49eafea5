"""Idempotent bulk writes into the hypertables and the metadata tables.

Each batch is streamed with COPY into a temporary staging table, then moved with one
`INSERT ... SELECT ... ON CONFLICT ON CONSTRAINT <natural key> DO NOTHING`: a row whose natural
key is already there (in the table, or earlier in the batch) is skipped, never overwritten, so
loading the same batch twice inserts nothing the second time.

Appends take a shorter path. A hypertable batch (but macro_series) is read in windows: the
rows whose natural key is stored are dropped, after one index query per window, and the rest are
copied straight into the table in a savepoint, at the speed of a plain COPY; if a key turns out
to be taken after all, the savepoint undoes it and the window takes the staging path
(macroinfra.data.direct). A macro_series batch whose time range holds no stored row
first tries a plain INSERT from the staging table in a savepoint, and falls back to ON CONFLICT
if a key turns up after all.

Values are checked as they stream (macroinfra.data.checks): NULL in a NOT NULL column, a
timestamptz without a time zone, NaN or an infinity in a number, a negative revision, a value
outside its enumeration; a bad value stops the load with the row and column named, and nothing
is written. macro_series is point-in-time data and gets three more checks before anything is
inserted (macroinfra.data.revisions). A load that is a transaction of its own, of rows that can
be read again, is run again when the server aborts it over a concurrent transaction (it skips
what is stored, so that is safe).

On the Community edition a target chunk may be compressed: TimescaleDB (2.11 and later)
decompresses the affected batches to check the natural key, and the loader lifts its
per-transaction decompression limit for the duration of the load.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from macroinfra.data.checks import checked_rows
from macroinfra.data.direct import load_direct
from macroinfra.data.revisions import RevisionError, check_revisions
from macroinfra.data.tables import LoadableTable, loadable_table
from macroinfra.errors import UsageError
from macroinfra.pg import Target, database_error, driver_connection, transaction
from macroinfra.timescale.spec import HYPERTABLES

if TYPE_CHECKING:
    import psycopg

__all__ = ["LoadResult", "RevisionError", "load"]

STAGE = "_macroinfra_stage"
DECOMPRESSION_LIMIT = "timescaledb.max_tuples_decompressed_per_dml_transaction"
# Hypertables a batch is copied straight into when its first key is new (macroinfra.data.direct);
# macro_series is staged first, for its revision checks.
DIRECT_TABLES = frozenset({h.table for h in HYPERTABLES} - {"macro_series"})

Row = Mapping[str, Any] | Sequence[Any]


@dataclass(frozen=True)
class LoadResult:
    table: str
    offered: int  # rows in the batch
    inserted: int  # rows that were new
    seconds: float
    __json_properties__ = ("skipped",)

    @property
    def skipped(self) -> int:
        """Rows whose natural key was already present."""
        return self.offered - self.inserted


@dataclass
class _Batch:
    """The rows as COPY takes them, counted as they stream."""

    rows: Iterable[Sequence[Any]]
    count: int = field(default=0)
    written: Callable[[int, int], None] | None = None


def load(
    target: Target,
    table: str,
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    written: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Load `rows` into `table`; return how many were offered and how many were new.

    `written(offered, inserted)`, if given, is called as the load goes, with the rows read and
    the rows inserted so far (uncommitted until the load returns).

    `target` is a macroinfra Database (the load commits on a pooled connection), or a
    SQLAlchemy or psycopg connection (the load runs in a savepoint of the caller's open
    transaction, or in a transaction of its own that it commits). Rows are mappings (columns
    default to the first row's keys) or sequences in the order of `columns`. Every column of
    the natural key must be given; `id` and the timestamps the database fills are not
    accepted. datetime values for timestamptz columns must carry a time zone.

    A load in a transaction of its own is run again when the server aborts it over a
    concurrent transaction, if its rows can be read again (a list, not a generator).
    """
    info = loadable_table(table)
    it = iter(rows)
    replayable = it is not rows
    first = next(it, None)
    if columns is None:
        if first is None:
            return LoadResult(table, 0, 0, 0.0)
        if not isinstance(first, Mapping):
            raise UsageError(
                f"loading {table}: rows are sequences, so the columns must be named",
                hint="pass columns=[...] in the order of the values, or give rows as mappings",
            )
        columns = tuple(first)
    cols = _check_columns(info, columns)
    streams = [itertools.chain([first], it) if first is not None else iter(())]
    as_mappings = isinstance(first, Mapping)

    def attempt() -> tuple[int, int]:
        batch = _Batch(
            _prepare(streams.pop() if streams else iter(rows), info, cols, as_mappings),
            written=written,
        )
        inserted = _load(conn, info, cols, batch)
        if written is not None:
            written(batch.count, inserted)
        return batch.count, inserted

    started = time.perf_counter()
    import psycopg

    doing = f"loading {table}"
    with driver_connection(target) as conn:
        try:
            offered, inserted = transaction(conn, attempt, doing, retry=replayable)
        except psycopg.Error as exc:
            raise database_error(exc, doing, table=table) from None
    return LoadResult(table, offered, inserted, time.perf_counter() - started)


def _check_columns(info: LoadableTable, columns: Sequence[str]) -> tuple[str, ...]:
    cols = tuple(columns)
    unknown = [c for c in cols if c not in info.columns]
    if unknown:
        raise UsageError(
            f"loading {info.name}: no column {', '.join(map(repr, unknown))} to load",
            hint=f"{info.name} takes: {', '.join(info.columns)}",
        )
    if len(set(cols)) != len(cols):
        raise UsageError(f"loading {info.name}: a column is named twice in {list(cols)}")
    missing = [c for c in info.required if c not in cols]
    if missing:
        raise UsageError(
            f"loading {info.name}: the batch lacks column {', '.join(map(repr, missing))}",
            hint=f"{info.name} needs: {', '.join(info.required)}",
        )
    return cols


def _prepare(
    rows: Iterator[Row], info: LoadableTable, cols: tuple[str, ...], as_mappings: bool
) -> Iterator[Sequence[Any]]:
    """Rows as sequences in `cols` order, each value checked (macroinfra.data.checks) here,
    or, for the append path, as each window is written (see macroinfra.data.direct)."""
    if as_mappings:
        get = operator.itemgetter(*cols)
        single = len(cols) == 1
        rows = (_pick(get, row, n, info, cols, single) for n, row in enumerate(rows, 1))
    return rows if info.name in DIRECT_TABLES else checked_rows(rows, info, cols)


def _pick(
    get: Callable[[Any], Any],
    row: Any,
    n: int,
    info: LoadableTable,
    cols: tuple[str, ...],
    single: bool,
) -> Sequence[Any]:
    try:
        values = get(row)
    except KeyError as exc:
        raise UsageError(f"loading {info.name}: row {n} has no value for column {exc}") from None
    except TypeError:
        raise UsageError(f"loading {info.name}: row {n} is not a mapping like row 1") from None
    return (values,) if single else values


def _load(
    conn: psycopg.Connection[Any], info: LoadableTable, cols: tuple[str, ...], batch: _Batch
) -> int:
    from psycopg import sql

    stage = sql.Identifier(STAGE)
    table = sql.Identifier(info.name)
    columns = sql.SQL(", ").join(map(sql.Identifier, cols))
    into_stage = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, columns)
    create_stage = sql.SQL(
        "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
    ).format(stage, columns, table)
    with conn.cursor() as cur:
        # Text that names no zone is read as UTC, whatever the server's TimeZone says.
        cur.execute("SELECT set_config('TimeZone', 'UTC', true)")
        if info.is_hypertable:
            cur.execute(
                "SELECT set_config(name, '0', true) FROM pg_settings WHERE name = %s",
                (DECOMPRESSION_LIMIT,),
            )
        if info.name in DIRECT_TABLES:

            def staged(window: Iterable[Sequence[Any]]) -> int:
                cur.execute(create_stage)
                with cur.copy(into_stage) as copy:
                    for row in window:
                        copy.write_row(row)
                return _insert_staged(conn, cur, info, columns, table, stage, known_overlap=True)

            def check(rows: Iterable[Sequence[Any]], numbers: Iterable[int]) -> Iterator[Any]:
                return checked_rows(rows, info, cols, numbers)

            batch.count, inserted = load_direct(
                conn, cur, info, cols, batch.rows, staged, check, written=batch.written
            )
            return inserted
        rows = batch.rows
        cur.execute(create_stage)
        with cur.copy(into_stage) as copy:
            write = copy.write_row
            count = 0
            for row in rows:
                write(row)
                count += 1
            batch.count = count
        if batch.count == 0:
            cur.execute(sql.SQL("DROP TABLE {}").format(stage))
            return 0
        if info.name == "macro_series":
            # The revision checks read what is stored: one macro_series writer at a time (until
            # this transaction ends), so two concurrent loads cannot both pass them.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('macroinfra.macro_series'))")
            check_revisions(cur, stage)
        return _insert_staged(conn, cur, info, columns, table, stage, known_overlap=False)


def _insert_staged(
    conn: psycopg.Connection[Any],
    cur: psycopg.Cursor[Any],
    info: LoadableTable,
    columns: Any,
    table: Any,
    stage: Any,
    *,
    known_overlap: bool,
) -> int:
    """Move the staged rows whose natural key is new into the table; return how many."""
    from psycopg import sql

    insert = sql.SQL("INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}").format(
        table=table, columns=columns, stage=stage
    )
    if info.time_column is not None:  # chunk by chunk: one open chunk at a time
        insert += sql.SQL(" ORDER BY {}").format(sql.Identifier(info.time_column))
    inserted = None
    if (
        not known_overlap
        and info.time_column is not None
        and not _overlaps(cur, info.time_column, stage, table)
    ):
        inserted = _insert_new(conn, cur, insert)
    if inserted is None:
        cur.execute(
            insert
            + sql.SQL(" ON CONFLICT ON CONSTRAINT {} DO NOTHING").format(
                sql.Identifier(info.natural_key)
            )
        )
        inserted = cur.rowcount
    cur.execute(sql.SQL("DROP TABLE {}").format(stage))
    return inserted


def _overlaps(cur: psycopg.Cursor[Any], time_column: str, stage: Any, table: Any) -> bool:
    """Whether the table holds any row in the batch's time range (one index probe a chunk)."""
    from psycopg import sql

    column = sql.Identifier(time_column)
    cur.execute(sql.SQL("SELECT min({c}), max({c}) FROM {s}").format(c=column, s=stage))
    lo, hi = cur.fetchone() or (None, None)
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {t} WHERE {c} BETWEEN %s AND %s)").format(
            t=table, c=column
        ),
        (lo, hi),
    )
    row = cur.fetchone()
    return bool(row and row[0])


def _insert_new(conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], insert: Any) -> int | None:
    """A batch past everything stored (the usual append) skips the ON CONFLICT machinery.

    If a key turns up anyway (repeated within the batch, or written meanwhile by another
    session) the savepoint undoes the attempt and the caller inserts with ON CONFLICT.
    """
    import psycopg.errors

    try:
        with conn.transaction():
            cur.execute(insert)
            return cur.rowcount
    except psycopg.errors.UniqueViolation:
        return None
