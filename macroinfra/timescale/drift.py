"""Differences between the SQLAlchemy models and the database, as Alembic's autogenerate sees
them, with what TimescaleDB owns left out: its schemas, and the time-column index
create_hypertable adds to each hypertable. `migrate check` reports them; the migration
environment (migrations/env.py) uses the same filters for autogenerate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from macroinfra.timescale.spec import HYPERTABLES, HypertableSpec

if TYPE_CHECKING:
    from macroinfra.db import Database


@dataclass(frozen=True)
class Drift:
    differences: list[str]  # readable lines; empty when the database matches the models
    __json_properties__ = ("drift",)

    @property
    def drift(self) -> bool:
        return bool(self.differences)


def autogenerate_filters(
    specs: Iterable[HypertableSpec] = HYPERTABLES, models: frozenset[str] | None = None
) -> tuple[Callable[..., bool], Callable[..., bool]]:
    """Filters that hide what TimescaleDB owns from autogenerate: its schemas, and the
    time-column index create_hypertable adds to each hypertable of `specs` (the shipped ones,
    or those and a team's). With `models`, the models' tables not named there are left out
    (models defined elsewhere in the process are not the schema's)."""
    hypertable_indexes = {f"{s.table}_{s.time_column}_idx" for s in specs}

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema":
            return name is None or name == "public"
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any):
        if type_ == "table" and not reflected and models is not None and name not in models:
            return False
        return not (
            type_ == "index" and reflected and compare_to is None and name in hypertable_indexes
        )

    return include_name, include_object


def check(db: Database) -> Drift:
    """Differences between the models (shipped and the team's, MACROINFRA_MODELS) and the
    database, as readable lines: tables and columns, and the team's declared hypertables."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import macroinfra.timescale.autogen  # noqa: F401 (registers the hypertable comparison)
    from macroinfra.db import connect
    from macroinfra.models import Base
    from macroinfra.models.team import declared

    schema = declared(db.settings)
    include_name, include_object = autogenerate_filters(schema.hypertables, schema.models)
    with connect(db.engine) as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_name": include_name,
                "include_object": include_object,
                "compare_type": True,
                "target_metadata": Base.metadata,
            },
        )
        diffs = compare_metadata(ctx, Base.metadata)
        conn.rollback()
    return Drift(describe_diffs(diffs))


def describe_diffs(diffs: list[Any]) -> list[str]:
    """Alembic's differences (`compare_metadata`, `UpgradeOps.as_diffs`) as readable lines."""
    return [_describe_diff(d) for d in _flatten(diffs)]


def _flatten(diffs: list[Any]) -> Iterator[Any]:
    for d in diffs:
        if isinstance(d, list):  # column modifications come grouped
            yield from d
        else:
            yield d


def _describe_diff(diff: Any) -> str:
    from macroinfra.timescale.ops import TIMESCALE_DIFF

    kind = diff[0]
    if kind == TIMESCALE_DIFF:
        return diff[3]
    if kind in {"add_table", "remove_table"}:
        return f"{kind.replace('_', ' ')}: {diff[1].name}"
    if kind in {"add_column", "remove_column"}:
        return f"{kind.replace('_', ' ')}: {diff[2]}.{diff[3].name}"
    if kind in {"add_index", "remove_index", "add_constraint", "remove_constraint"}:
        obj = diff[1]
        return f"{kind.replace('_', ' ')}: {obj.table.name}.{obj.name}"
    if kind.startswith("modify_"):
        _, _schema, table, column, _info, old, new = diff
        return f"{kind.replace('_', ' ')}: {table}.{column}: database {old!r}, models {new!r}"
    if kind in {"add_fk", "remove_fk"}:
        return f"{kind.replace('_', ' ')}: {diff[1].parent.name}.{diff[1].name}"
    return " ".join(str(part) for part in diff)
