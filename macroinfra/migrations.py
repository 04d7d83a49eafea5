"""Alembic driven through its Python API, on macroinfra's own engine.

No alembic.ini: the script folder ships with the package and the connection is handed to
Alembic in `Config.attributes`, so a `%` in a password is just a character. Upgrades hold a
PostgreSQL advisory lock, so two migrators never race: the second waits, then finds the
database at head. Each upgrade runs in one transaction: a failure leaves the previous revision.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from macroinfra.errors import MigrationError, UsageError
from macroinfra.resources import migrations_dir
from macroinfra.timescale.spec import BY_TABLE

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

    from macroinfra.db import Database

# pg_advisory_lock key: the bytes of "macroinf" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"macroinf", "big", signed=True)
NOTES = "macroinfra.notes"
log = logging.getLogger("macroinfra.migrations")


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    message: str
    is_head: bool


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: list[Revision]
    __json_properties__ = ("at_head",)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None
    applied: list[str]
    waited_for_lock: bool
    notes: list[str] = field(default_factory=list)
    __json_properties__ = ("changed",)

    @property
    def changed(self) -> bool:
        return self.before != self.after


# -- used by migrations/env.py and the migration scripts ------------------------------------


def autogenerate_filters() -> tuple[Callable[..., bool], Callable[..., bool]]:
    """Filters that hide what TimescaleDB owns from autogenerate: its schemas, and the
    time-column index create_hypertable adds to each hypertable."""
    hypertable_indexes = {f"{s.table}_{s.time_column}_idx" for s in BY_TABLE.values()}

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema":
            return name is None or name == "public"
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any):
        return not (
            type_ == "index" and reflected and compare_to is None and name in hypertable_indexes
        )

    return include_name, include_object


def note(message: str) -> None:
    """Say something to whoever runs the migration (collected by `upgrade`, else logged)."""
    from alembic import op

    notes = op.get_context().config.attributes.get(NOTES) if op.get_context().config else None
    if notes is not None:
        notes.append(message)
    else:
        log.warning(message)


# -- the API the CLI calls -------------------------------------------------------------------


def _config(connection: Connection | None = None, output: io.StringIO | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(output_buffer=output, stdout=output or io.StringIO())
    cfg.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    cfg.attributes[NOTES] = []
    return cfg


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _current(connection: Connection, script: ScriptDirectory) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    heads = MigrationContext.configure(connection).get_current_heads()
    connection.commit()
    current = heads[0] if heads else None
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise MigrationError(
                f"the database is at revision {current}, which this macroinfra does not know",
                hint="upgrade macroinfra to the version that wrote it, or point POSTGRES_DB "
                "at another database",
            ) from None
    return current


@dataclass(frozen=True)
class Drift:
    differences: list[str]  # readable lines; empty when the database matches the models
    __json_properties__ = ("drift",)

    @property
    def drift(self) -> bool:
        return bool(self.differences)


def check_target(revision: str) -> None:
    """Refuse a revision this macroinfra does not know, before anything asks or connects."""
    from alembic.util import CommandError

    if not revision.strip():
        raise UsageError(
            "no revision given: --to is empty",
            hint="give base, head, -1 (one down) or a revision of `macroinfra migrate history`",
        )
    if revision in {"head", "heads", "base"} or revision.lstrip("-+").isdigit():
        return
    try:
        found = _script().get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise UsageError(f"unknown revision {revision!r}", hint="see `macroinfra migrate history`")


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, "no migration scripts found"
    return head


def history() -> list[Revision]:
    script = _script()
    heads = set(script.get_heads())
    return [
        Revision(r.revision, _down(r.down_revision), (r.doc or "").strip(), r.revision in heads)
        for r in script.walk_revisions()
    ]


def _down(value: Any) -> str | None:
    if isinstance(value, tuple | list):
        return ",".join(value)
    return value


def status(db: Database) -> MigrationStatus:
    script = _script()
    with _connect(db) as conn:
        current = _current(conn, script)
    head = script.get_current_head() or ""
    pending = [
        Revision(r.revision, _down(r.down_revision), (r.doc or "").strip(), r.revision == head)
        for r in reversed(list(script.iterate_revisions(head, current or "base")))
    ]
    return MigrationStatus(current=current, head=head, pending=pending)


def upgrade(
    db: Database, revision: str = "head", *, on_wait: Callable[[], None] | None = None
) -> MigrationResult:
    """Upgrade to `revision` under the advisory lock, then apply compression if the edition
    allows it and the schema lacks it."""
    from alembic import command

    from macroinfra.timescale.compression import apply_compression

    script = _script()
    with _connect(db) as conn, _locked(conn, on_wait) as waited:
        before = _current(conn, script)
        cfg = _config(conn)
        _run(lambda: command.upgrade(cfg, revision))
        after = _current(conn, script)
        notes = list(cfg.attributes[NOTES])
        if after is not None:
            with conn.begin():
                notes += [n for n in apply_compression(conn) if n not in notes]
    applied = (
        [r.revision for r in reversed(list(script.iterate_revisions(after, before)))]
        if after and after != before
        else []
    )
    return MigrationResult(before, after, applied, waited, notes)


def downgrade(db: Database, revision: str) -> MigrationResult:
    from alembic import command

    check_target(revision)
    script = _script()
    with _connect(db) as conn, _locked(conn, None) as waited:
        before = _current(conn, script)
        if before is None:
            return MigrationResult(None, None, [], waited, ["the database has no revision"])
        cfg = _config(conn)
        _run(lambda: command.downgrade(cfg, revision))
        after = _current(conn, script)
    # A backend that had TimescaleDB loaded cannot create the extension again after it was
    # dropped: start the next use of this engine on fresh sessions.
    db.engine.dispose()
    removed = [r.revision for r in script.iterate_revisions(before, after or "base")]
    return MigrationResult(before, after, removed, waited, list(cfg.attributes[NOTES]))


def offline_sql(revision: str = "head", start: str | None = None) -> str:
    """The SQL an upgrade would run, without connecting (edition checks happen in SQL)."""
    from alembic import command

    check_target(revision)
    out = io.StringIO()
    cfg = _config(output=out)
    target = f"{start}:{revision}" if start else revision
    _run(lambda: command.upgrade(cfg, target, sql=True))
    return out.getvalue()


def check(db: Database) -> Drift:
    """Differences between the models and the database, as readable lines."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from macroinfra.models import Base

    include_name, include_object = autogenerate_filters()
    with _connect(db) as conn:
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
    return Drift([_describe_diff(d) for d in _flatten(diffs)])


def _flatten(diffs: list[Any]) -> Iterator[Any]:
    for d in diffs:
        if isinstance(d, list):  # column modifications come grouped
            yield from d
        else:
            yield d


def _describe_diff(diff: Any) -> str:
    kind = diff[0]
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


# -- plumbing --------------------------------------------------------------------------------


@contextmanager
def _connect(db: Database) -> Iterator[Connection]:
    from macroinfra.db import connect

    with connect(db.engine) as conn:
        yield conn


@contextmanager
def _locked(conn: Connection, on_wait: Callable[[], None] | None) -> Iterator[bool]:
    from sqlalchemy import text

    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
    waited = not got
    if waited:
        if on_wait is not None:
            on_wait()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
    conn.commit()
    try:
        yield waited
    except BaseException:
        _unlock(conn, failing=True)
        raise
    _unlock(conn, failing=False)


def _unlock(conn: Connection, *, failing: bool) -> None:
    """Release the advisory lock on the session that holds it, and never on another: a session
    the server ended took its lock with it, and a failed release ends the session so the lock
    goes with it too. When the block failed, its error is the one that counts: a failure to
    release is not raised over it."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from macroinfra.db import discard_if_dead

    discard_if_dead(conn)
    if conn.invalidated or conn.closed:
        return  # never reconnect (SQLAlchemy would): the new session would hold no lock
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        conn.commit()
    except DBAPIError:
        conn.invalidate()
        if not failing:
            raise


def _run(action: Callable[[], Any]) -> None:
    """Run an Alembic command, turning its failures into one-line MigrationErrors."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from macroinfra.errors import connection_lost, first_line

    try:
        action()
    except CommandError as exc:
        raise MigrationError(f"migration failed: {exc}") from None
    except DBAPIError as exc:
        first = first_line(exc.orig) if exc.orig else type(exc).__name__
        if exc.connection_invalidated or connection_lost(exc):
            raise MigrationError(
                f"migration interrupted, lost the connection to PostgreSQL: {first}",
                hint="each migration is one transaction, so none is half applied: check the "
                "server (`macroinfra doctor`), then run `macroinfra migrate status`",
            ) from None
        raise MigrationError(
            f"migration failed, the database is unchanged: {first}",
            hint="fix the cause above and run `macroinfra migrate` again",
        ) from None
