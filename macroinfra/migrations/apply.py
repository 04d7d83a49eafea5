"""Upgrade, downgrade, status and offline SQL, on macroinfra's own engine.

Upgrades hold a PostgreSQL advisory lock, so two migrators never race: the second waits, then
finds the database at head. Each upgrade runs in one transaction: a failure leaves the previous
revision. After an upgrade, compression is applied to every declared hypertable (shipped and
the team's) that lacks it, where the edition allows it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from macroinfra.errors import MigrationError, UsageError
from macroinfra.migrations.plumbing import connect, locked, run
from macroinfra.migrations.results import DowngradePlan, MigrationResult, MigrationStatus
from macroinfra.migrations.scripts import (
    VARIABLE,
    ancestors,
    check_target,
    config,
    describe,
    heads,
    joined,
    resolve,
    script,
)
from macroinfra.timescale.notes import NOTES
from macroinfra.timescale.teardown import dropped_tables, existing, table_rows

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

    from macroinfra.db import Database
    from macroinfra.settings import Settings


def current_heads(connection: Connection, directory: ScriptDirectory) -> tuple[str, ...]:
    """The revisions the database is at (none: empty); MigrationError for one not known."""
    from alembic.runtime.migration import MigrationContext

    found = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    connection.commit()
    for revision in found:
        if resolve(directory, revision) is None:
            raise MigrationError(
                f"the database is at revision {revision}, which this macroinfra does not know",
                hint=f"if it is one of your team's revisions, set {VARIABLE} to their folder; "
                "else upgrade macroinfra to the version that wrote it, or point POSTGRES_DB "
                "at another database",
            )
    return found


def status(db: Database) -> MigrationStatus:
    directory = script(db.settings)
    with connect(db) as conn:
        current = current_heads(conn, directory)
    tops = heads(directory)
    done = set(ancestors(directory, current))
    pending = [
        describe(directory, directory.get_revision(r), set(tops))
        for r in reversed(ancestors(directory, tops))
        if r not in done
    ]
    return MigrationStatus(joined(current), ",".join(tops), pending)


def _refuse_below(directory: ScriptDirectory, current: tuple[str, ...], revision: str) -> None:
    target = resolve(directory, revision)
    below = set(ancestors(directory, current)) - set(current)
    if target is not None and target in below:
        raise UsageError(
            f"revision {revision!r} is below the current revision {joined(current)}",
            hint=f"to go down, run `macroinfra migrate down --to {revision}` (drops data)",
        )


def upgrade(
    db: Database, revision: str = "heads", *, on_wait: Callable[[], None] | None = None
) -> MigrationResult:
    """Upgrade to `revision` (default: every head, the shipped one and the team's) under the
    advisory lock, then apply compression where the edition allows it and the schema lacks it."""
    from alembic import command

    from macroinfra.models.team import declared
    from macroinfra.timescale.compression import apply_compression

    settings = db.settings
    schema = declared(settings)
    known = check_target(revision, settings)
    if revision.strip().startswith("-") or revision == "base":
        raise UsageError(
            f"migrate --to {revision} would go down",
            hint=f"run `macroinfra migrate down --to {revision}` (drops data)",
        )
    target = "heads" if revision == "head" else revision
    directory = known or script(settings)
    with connect(db) as conn, locked(conn, on_wait) as waited:
        before = current_heads(conn, directory)
        _refuse_below(directory, before, target)
        cfg = config(settings, conn, schema=schema)
        run(lambda: command.upgrade(cfg, target))
        after = current_heads(conn, directory)
        notes = list(cfg.attributes[NOTES])
        if after:
            with conn.begin():
                notes += [n for n in apply_compression(conn, schema.hypertables) if n not in notes]
    done = set(ancestors(directory, before))
    applied = [r for r in reversed(ancestors(directory, after)) if r not in done]
    tops = set(heads(directory))
    described = [describe(directory, directory.get_revision(r), tops) for r in applied]
    return MigrationResult(
        joined(before), joined(after), applied, waited, notes, revisions=described
    )


def plan_downgrade(db: Database, revision: str) -> DowngradePlan:
    """What a downgrade to `revision` undoes and drops (UsageError: not at or below current)."""
    directory = check_target(revision, db.settings) or script(db.settings)
    with connect(db) as conn:
        current = current_heads(conn, directory)
        plan = _plan(db, conn, directory, current, revision)
        conn.rollback()
    return plan


def downgrade(db: Database, revision: str, *, expected: str | None = None) -> MigrationResult:
    """Downgrade to `revision` under the advisory lock. With `expected` (the current revision
    of the plan a person confirmed), refuse if the database has moved since."""
    from alembic import command

    settings = db.settings
    directory = check_target(revision, settings) or script(settings)
    with connect(db) as conn, locked(conn, None) as waited:
        before = current_heads(conn, directory)
        if expected is not None and joined(before) != expected:
            raise MigrationError(
                f"the database moved from {expected} to {joined(before)} since the question: "
                "nothing was dropped; run `macroinfra migrate down` again"
            )
        plan = _plan(db, conn, directory, before, revision)
        conn.rollback()
        cfg = config(settings, conn)
        if plan.removed:
            run(lambda: command.downgrade(cfg, plan.target or "base"))
        after = current_heads(conn, directory)
        kept = set(existing(conn, [t.table for t in plan.tables]))
        conn.rollback()
    # A backend that had TimescaleDB loaded cannot create the extension again after it was
    # dropped: start the next use of this engine on fresh sessions.
    db.engine.dispose()
    notes = list(cfg.attributes[NOTES]) + ([] if before else ["the database has no revision"])
    dropped = [t for t in plan.tables if t.table not in kept]
    tops = set(heads(directory))
    described = [describe(directory, directory.get_revision(r), tops) for r in plan.removed]
    return MigrationResult(
        joined(before),
        joined(after),
        plan.removed,
        waited,
        notes,
        plan.database,
        plan.host,
        dropped,
        described,
    )


def _plan(
    db: Database,
    conn: Connection,
    directory: ScriptDirectory,
    current: tuple[str, ...],
    revision: str,
) -> DowngradePlan:
    s = db.settings
    database, host = s.postgres_db, f"{s.postgres_host}:{s.postgres_port}"
    if not current:
        return DowngradePlan(database, host, None, None, [], [])
    target = _target(directory, current, revision)
    below = set(ancestors(directory, (target,))) if target else set()
    removed = [r for r in ancestors(directory, current) if r not in below]
    tables = _dropped_tables(s, joined(current), target) if removed else []
    return DowngradePlan(database, host, joined(current), target, removed, table_rows(conn, tables))


def _target(directory: ScriptDirectory, current: tuple[str, ...], revision: str) -> str | None:
    """The revision (None: base) a downgrade from `current` to `revision` ends at."""
    chain: list[str | None] = [*ancestors(directory, current), None]
    now = joined(current)
    if revision == "base":
        return None
    if revision.startswith("-") and revision[1:].isdigit() and int(revision[1:]) > 0:
        if int(revision[1:]) >= len(chain):
            raise UsageError(
                f"cannot go down {revision[1:]} revisions: {now} is {len(chain) - 1} above base",
                hint="give --to base to remove everything",
            )
        return chain[int(revision[1:])]
    found = resolve(directory, revision)
    if found is None or found not in chain:
        raise UsageError(
            f"revision {revision!r} is not at or below the current revision {now}",
            hint="migrate down goes to an older revision: see `macroinfra migrate history`",
        )
    return found


def _dropped_tables(settings: Settings, current: str | None, target: str | None) -> list[str]:
    from alembic import command

    out = io.StringIO()
    cfg = config(settings, output=out)
    run(lambda: command.downgrade(cfg, f"{current}:{target or 'base'}", sql=True))
    return dropped_tables(out.getvalue())


def offline_sql(revision: str = "heads", settings: Settings | None = None) -> str:
    """The SQL an upgrade would run, without connecting (edition checks happen in SQL)."""
    from alembic import command

    from macroinfra.models.team import declared

    schema = declared(settings)
    check_target(revision, settings)
    target = "heads" if revision == "head" else revision
    out = io.StringIO()
    cfg = config(settings, output=out, schema=schema)
    run(lambda: command.upgrade(cfg, target, sql=True))
    return out.getvalue()
