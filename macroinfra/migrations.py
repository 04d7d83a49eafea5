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
from macroinfra.timescale.drift import Drift, autogenerate_filters, check  # noqa: F401 (API)
from macroinfra.timescale.teardown import DroppedTable, dropped_tables, existing, table_rows

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
    database: str | None = None
    host: str | None = None  # host:port
    dropped: list[DroppedTable] = field(default_factory=list)  # by a downgrade, with their rows
    __json_properties__ = ("changed",)

    @property
    def changed(self) -> bool:
        return self.before != self.after


# -- used by migrations/env.py and the migration scripts ------------------------------------


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
class DowngradePlan:
    """What `migrate down` would do, for the question asked before it does it."""

    database: str
    host: str  # host:port
    current: str | None
    target: str | None  # None: base, nothing left
    removed: list[str]  # the revisions undone, newest first
    tables: list[DroppedTable]  # the tables dropped, with the rows they hold


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


def plan_downgrade(db: Database, revision: str) -> DowngradePlan:
    """What a downgrade to `revision` undoes and drops (UsageError: not at or below current)."""
    check_target(revision)
    script = _script()
    with _connect(db) as conn:
        current = _current(conn, script)
        plan = _plan(db, conn, script, current, revision)
        conn.rollback()
    return plan


def downgrade(db: Database, revision: str, *, expected: str | None = None) -> MigrationResult:
    """Downgrade to `revision` under the advisory lock. With `expected` (the current revision
    of the plan a person confirmed), refuse if the database has moved since."""
    from alembic import command

    check_target(revision)
    script = _script()
    with _connect(db) as conn, _locked(conn, None) as waited:
        before = _current(conn, script)
        if expected is not None and before != expected:
            raise MigrationError(
                f"the database moved from {expected} to {before} since the question: nothing "
                "was dropped; run `macroinfra migrate down` again"
            )
        plan = _plan(db, conn, script, before, revision)
        conn.rollback()
        cfg = _config(conn)
        if plan.removed:
            _run(lambda: command.downgrade(cfg, plan.target or "base"))
        after = _current(conn, script)
        kept = set(existing(conn, [t.table for t in plan.tables]))
        conn.rollback()
    # A backend that had TimescaleDB loaded cannot create the extension again after it was
    # dropped: start the next use of this engine on fresh sessions.
    db.engine.dispose()
    notes = list(cfg.attributes[NOTES]) + ([] if before else ["the database has no revision"])
    dropped = [t for t in plan.tables if t.table not in kept]
    return MigrationResult(
        before, after, plan.removed, waited, notes, plan.database, plan.host, dropped
    )


def _where(db: Database) -> tuple[str, str]:
    s = db.settings
    return s.postgres_db, f"{s.postgres_host}:{s.postgres_port}"


def _plan(
    db: Database, conn: Connection, script: ScriptDirectory, current: str | None, revision: str
) -> DowngradePlan:
    database, host = _where(db)
    if current is None:
        return DowngradePlan(database, host, None, None, [], [])
    target = _target(script, current, revision)
    removed = [r.revision for r in script.iterate_revisions(current, target or "base")]
    tables = _dropped_tables(current, target) if removed else []
    return DowngradePlan(database, host, current, target, removed, table_rows(conn, tables))


def _target(script: ScriptDirectory, current: str, revision: str) -> str | None:
    """The revision (None: base) a downgrade from `current` to `revision` ends at."""
    from alembic.util import CommandError

    chain = [r.revision for r in script.iterate_revisions(current, "base")] + [None]
    if revision == "base":
        return None
    if revision.startswith("-") and revision[1:].isdigit() and int(revision[1:]) > 0:
        if int(revision[1:]) >= len(chain):
            raise UsageError(
                f"cannot go down {revision[1:]} revisions: {current} is {len(chain) - 1} "
                "above base",
                hint="give --to base to remove everything",
            )
        return chain[int(revision[1:])]
    try:
        found = script.get_revision(revision)
    except CommandError:
        found = None
    if found is None or found.revision not in chain:
        raise UsageError(
            f"revision {revision!r} is not at or below the current revision {current}",
            hint="migrate down goes to an older revision: see `macroinfra migrate history`",
        )
    return found.revision


def _dropped_tables(current: str | None, target: str | None) -> list[str]:
    from alembic import command

    out = io.StringIO()
    cfg = _config(output=out)
    _run(lambda: command.downgrade(cfg, f"{current}:{target or 'base'}", sql=True))
    return dropped_tables(out.getvalue())


def offline_sql(revision: str = "head", start: str | None = None) -> str:
    """The SQL an upgrade would run, without connecting (edition checks happen in SQL)."""
    from alembic import command

    check_target(revision)
    out = io.StringIO()
    cfg = _config(output=out)
    target = f"{start}:{revision}" if start else revision
    _run(lambda: command.upgrade(cfg, target, sql=True))
    return out.getvalue()


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
