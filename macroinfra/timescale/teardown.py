"""What dropping tables loses, for a person about to do it: which tables a downgrade drops (read
from the SQL its scripts render), and how many rows they hold.

Rows are counted where that is quick: a table the planner estimates at up to EXACT_UP_TO rows,
within COUNT_TIMEOUT_MS. A bigger one, or one whose count runs out of time, gets the planner's
estimate, marked as such: TimescaleDB's approximate_row_count (for a hypertable, the sum over
its chunks), else pg_class.reltuples. Reads only; takes a SQLAlchemy connection in a
transaction (a savepoint keeps a cancelled count from ending it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_DROP_TABLE = re.compile(r'^DROP TABLE (?:IF EXISTS )?"?([\w.]+)"?', re.M)
EXACT_UP_TO = 1_000_000
COUNT_TIMEOUT_MS = 3_000


@dataclass(frozen=True)
class DroppedTable:
    table: str
    rows: int
    estimated: bool = False  # True: the planner's estimate, not a count


def dropped_tables(sql: str) -> list[str]:
    """The tables `sql` drops, in order, each once."""
    return list(dict.fromkeys(_DROP_TABLE.findall(sql)))


def existing(connection: Any, tables: Sequence[str]) -> list[str]:
    """Those of `tables` (unqualified names in the search path) that exist."""
    from sqlalchemy import text

    query = text("SELECT to_regclass(:t) IS NOT NULL")
    return [t for t in tables if connection.execute(query, {"t": t}).scalar()]


def table_rows(connection: Any, tables: Sequence[str]) -> list[DroppedTable]:
    """Rows of each of `tables` (unqualified names in the search path) that exists."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    timescale = connection.execute(
        text("SELECT to_regproc('approximate_row_count') IS NOT NULL")
    ).scalar()
    estimate_sql = text(
        "SELECT approximate_row_count(CAST(:t AS regclass))"
        if timescale
        else "SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)"
    )
    previous = connection.execute(text("SELECT current_setting('statement_timeout')")).scalar()
    found = []
    for table in existing(connection, tables):
        estimate = int(connection.execute(estimate_sql, {"t": table}).scalar() or 0)
        if estimate > EXACT_UP_TO:
            found.append(DroppedTable(table, estimate, estimated=True))
            continue
        quoted = connection.dialect.identifier_preparer.quote(table)
        try:
            with connection.begin_nested():
                connection.execute(
                    text("SELECT set_config('statement_timeout', :ms, true)"),
                    {"ms": str(COUNT_TIMEOUT_MS)},
                )
                count = connection.execute(text(f"SELECT count(*) FROM {quoted}")).scalar()
            found.append(DroppedTable(table, int(count or 0)))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "57014":  # query_canceled: out of time
                raise
            found.append(DroppedTable(table, max(estimate, 0), estimated=True))
    connection.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": previous})
    return found
