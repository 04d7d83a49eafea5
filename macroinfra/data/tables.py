"""What the loader needs to know about each table it writes: columns, natural key, and the
enumeration each enumerated column takes its values from.

Derived from the SQLAlchemy models (the one description of the schema), on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from macroinfra.errors import UsageError
from macroinfra.timescale.spec import ALL_TABLES, BY_TABLE

# Filled by the database, never by a writer.
_SERVER_ONLY = frozenset({"created_at", "updated_at"})
# Counts that start at 0: (table, column).
_NON_NEGATIVE = frozenset({("macro_series", "revision_number")})


@dataclass(frozen=True)
class LoadableTable:
    name: str
    columns: tuple[str, ...]  # every column a writer may give, in table order
    required: tuple[str, ...]  # a batch must give these: the NOT NULL columns of the natural
    # key, and the NOT NULL columns without a default
    natural_key: str  # the unique constraint ON CONFLICT names
    key_columns: tuple[str, ...]
    time_column: str | None  # hypertables only
    timestamptz_columns: tuple[str, ...]
    json_columns: tuple[str, ...]
    enum_columns: tuple[tuple[str, type[StrEnum]], ...]  # (column, the StrEnum of its values)
    not_null_columns: tuple[str, ...]  # NULL is refused (a server default fills a column left
    # out of the batch, never a NULL given in it)
    numeric_columns: tuple[str, ...]  # integer and numeric: NaN and infinities refused
    integer_columns: tuple[str, ...]
    date_columns: tuple[str, ...]  # date, without a time
    non_negative_columns: tuple[str, ...]

    @property
    def is_hypertable(self) -> bool:
        return self.time_column is not None


@cache
def loadable_table(name: str) -> LoadableTable:
    """The loadable table `name`; a UsageError names the loadable ones otherwise."""
    if name not in ALL_TABLES:
        raise UsageError(
            f"cannot load into {name!r}: not a macroinfra table",
            hint=f"load into one of: {', '.join(ALL_TABLES)}",
        )
    from sqlalchemy import Date, Enum, Integer, Numeric, UniqueConstraint
    from sqlalchemy.dialects.postgresql import JSON, JSONB
    from sqlalchemy.types import DateTime

    from macroinfra.models import Base

    table = Base.metadata.tables[name]
    spec = BY_TABLE.get(name)
    columns = [c for c in table.columns if c.name not in _SERVER_ONLY]
    if spec is not None:  # the identity half of the primary key is the database's to assign
        columns = [c for c in columns if c.name != "id"]
    else:
        columns = [c for c in columns if not c.primary_key]
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    if spec is not None:
        key = next(u for u in uniques if u.name == f"uq_{name}_natural_key")
    else:
        (key,) = uniques  # metadata tables have exactly one unique constraint
    required = [c.name for c in key.columns if not c.nullable]
    required += [
        c.name
        for c in columns
        if not c.nullable
        and c.server_default is None
        and c.default is None
        and c.name not in required
    ]
    return LoadableTable(
        name=name,
        columns=tuple(c.name for c in columns),
        required=tuple(required),
        natural_key=str(key.name),
        key_columns=tuple(c.name for c in key.columns),
        time_column=spec.time_column if spec else None,
        timestamptz_columns=tuple(
            c.name for c in columns if isinstance(c.type, DateTime) and c.type.timezone
        ),
        json_columns=tuple(c.name for c in columns if isinstance(c.type, JSON | JSONB)),
        enum_columns=tuple(
            (c.name, c.type.enum_class)
            for c in columns
            if isinstance(c.type, Enum) and c.type.enum_class is not None
        ),
        not_null_columns=tuple(c.name for c in columns if not c.nullable),
        numeric_columns=tuple(c.name for c in columns if isinstance(c.type, Integer | Numeric)),
        integer_columns=tuple(c.name for c in columns if isinstance(c.type, Integer)),
        date_columns=tuple(c.name for c in columns if isinstance(c.type, Date)),
        non_negative_columns=tuple(c.name for c in columns if (name, c.name) in _NON_NEGATIVE),
    )
