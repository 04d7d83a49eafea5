"""What the migration functions return: plain values the CLI renders."""

from __future__ import annotations

from dataclasses import dataclass, field

from macroinfra.timescale.teardown import DroppedTable

SHIPPED = "shipped"  # a revision that ships with macroinfra
TEAM = "team"  # a revision of the team's own (MACROINFRA_MIGRATIONS_DIR)


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None  # several: joined with ","
    message: str
    is_head: bool
    origin: str = SHIPPED  # SHIPPED or TEAM


@dataclass(frozen=True)
class History:
    revisions: list[Revision]  # newest first


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None  # several heads: joined with ","
    head: str  # several heads: joined with ","
    pending: list[Revision]
    __json_properties__ = ("at_head",)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None
    applied: list[str]  # upgrade: applied, oldest first; downgrade: undone, newest first
    waited_for_lock: bool
    notes: list[str] = field(default_factory=list)
    database: str | None = None
    host: str | None = None  # host:port
    dropped: list[DroppedTable] = field(default_factory=list)  # by a downgrade, with their rows
    revisions: list[Revision] = field(default_factory=list)  # the `applied` ones, described
    __json_properties__ = ("changed",)

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class DowngradePlan:
    """What `migrate down` would do, for the question asked before it does it."""

    database: str
    host: str  # host:port
    current: str | None
    target: str | None  # None: base, nothing left
    removed: list[str]  # the revisions undone, newest first
    tables: list[DroppedTable]  # the tables dropped, with the rows they hold


@dataclass(frozen=True)
class NewRevision:
    """A revision `migrate revision` wrote (or, autogenerating, found no reason to write)."""

    written: bool  # False: autogenerate found no difference, so no file
    revision: str | None
    down_revision: str | None
    message: str
    path: str | None
    branch_label: str | None  # "team" on the team's first revision
    autogenerate: bool
    operations: list[str]  # what the upgrade does, one line each (autogenerate)
