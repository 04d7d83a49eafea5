"""`prepare_restore` and `restore`: a dump into the configured database, by TimescaleDB's
procedure.

`prepare_restore` checks everything and changes nothing: the file is a dump pg_restore can read
(`pg_restore --list`), it is the very dump its record describes (size, SHA-256), the server
can take it (PostgreSQL major, the TimescaleDB version the dump was made with), and it names
the tables the database holds now, which a restore replaces (the caller asks first).

`restore` then: removes what the database holds (only when it holds tables: every schema but
PostgreSQL's own and those extensions own, and the timescaledb extension), creates the
extension at the dump's version, runs `SELECT timescaledb_pre_restore()`, pg_restore in one
transaction (all of the dump or none of it), and `SELECT timescaledb_post_restore()`, which
runs even when pg_restore failed so the database never stays in restoring mode.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.backup import archive, catalog, clients
from macroinfra.backup.catalog import Server, TableRows
from macroinfra.backup.messages import Messages
from macroinfra.errors import ConfigError, OperationError, UsageError
from macroinfra.pg import database_error
from macroinfra.redaction import Redactor

if TYPE_CHECKING:
    import psycopg

    from macroinfra.settings import Settings

Progress = Callable[[str], None]
# pg_restore --verbose lines that mark progress, by phase
TABLE_STEP = "creating TABLE "
DATA_STEP = "processing data for table "
INDEX_STEPS = ("creating INDEX ", "creating CONSTRAINT ", "creating FK CONSTRAINT ")
_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA ", re.M)


@dataclass(frozen=True)
class RestorePlan:
    file: Path
    meta: archive.DumpMeta
    database: str
    server: Server
    replaces: list[TableRows]  # the tables the database holds now (a restore replaces them)
    data_entries: int  # table data entries in the dump (hypertable chunks one each)
    client: clients.Client = field(repr=False)  # the pg_restore that read the dump

    @property
    def pg_restore(self) -> str:
        return self.client.description


@dataclass(frozen=True)
class RestoreResult:
    file: Path
    size_bytes: int
    database: str
    tables: list[TableRows]  # restored: the dump's tables and the rows it recorded
    replaced: list[TableRows]  # what the database held before
    timescaledb_version: str | None
    revision: str | None
    seconds: float
    pg_restore: str
    warnings: list[str] = field(default_factory=list)
    __json_properties__ = ("rows",)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


class VersionMismatch(ConfigError):
    """The server cannot take the dump as it is (exit 2): another PostgreSQL major or
    TimescaleDB version."""


def prepare_restore(settings: Settings, file: Path) -> RestorePlan:
    """Check that `file` can be restored into the configured database; change nothing."""
    file = Path(file)
    archive.readable_file(file)
    with catalog.connect(settings) as conn:
        server = catalog.read_versions(conn)
        client = clients.find_client(settings, "pg_restore", server.major)
        unknown: UsageError | None = None  # no record: said once the file is known to be a dump
        try:
            meta = archive.read_meta(file)
        except UsageError as exc:
            unknown = exc
        else:
            _check_major(meta, server)  # before an older pg_restore reads an archive it cannot
        listing = _listing(client, file)
        if unknown is not None:
            raise unknown
        archive.check_file(file, meta)
        replaces = catalog.count_rows(conn, catalog.user_tables(conn))
        _check_versions(meta, server, settings.postgres_db, keeps_extension=not replaces)
    return RestorePlan(
        file=file,
        meta=meta,
        database=settings.postgres_db,
        server=server,
        replaces=replaces,
        data_entries=len(_TABLE_DATA.findall(listing)),
        client=client,
    )


def _listing(client: clients.Client, file: Path) -> str:
    with file.open("rb") as archive_file:
        done = clients.capture(client, ["--list"], stdin=archive_file)
    if done.returncode == 0:
        return done.stdout.decode(errors="replace")
    messages = Messages("pg_restore", Redactor())
    for line in done.stderr.decode(errors="replace").splitlines():
        messages(line)
    raise UsageError(
        f"{file} is not a dump pg_restore can read: {messages.reason(done.returncode)}",
        hint="give a file written by `macroinfra db dump` (pg_dump's custom format)",
    )


def _check_versions(
    meta: archive.DumpMeta, server: Server, database: str, *, keeps_extension: bool
) -> None:
    """The server has the dump's TimescaleDB version. `keeps_extension`: the database's
    extension, if any, stays (a restore that replaces tables drops it and creates it again)."""
    wanted = meta.timescaledb_version
    if wanted is None:
        return
    if keeps_extension and server.timescaledb is not None:
        if server.timescaledb != wanted:
            raise _extension_mismatch(meta, server.timescaledb, database)
        return
    if wanted in server.timescaledb_available:
        return
    here = server.timescaledb_default
    if here is None:
        raise VersionMismatch(
            f"the dump needs TimescaleDB {wanted}, which this server does not have",
            hint=f"install TimescaleDB {wanted} for PostgreSQL {server.major} on the server",
        )
    raise _extension_mismatch(meta, here, database)


def _check_major(meta: archive.DumpMeta, server: Server) -> None:
    if meta.server_major > server.major:
        raise VersionMismatch(
            f"the dump is of PostgreSQL {meta.server_major}; the server runs {server.major}",
            hint=f"restore it into PostgreSQL {meta.server_major} or newer",
        )


def _extension_mismatch(meta: archive.DumpMeta, here: str, database: str) -> VersionMismatch:
    wanted = meta.timescaledb_version
    return VersionMismatch(
        f"the dump was made with TimescaleDB {wanted}; database {database!r} has {here}",
        hint=f"install TimescaleDB {wanted} on this server and restore again, or restore into a "
        f"server with TimescaleDB {wanted} and then run `ALTER EXTENSION timescaledb UPDATE` "
        f"there to move to {here}",
    )


def restore(
    settings: Settings, plan: RestorePlan, *, progress: Progress | None = None
) -> RestoreResult:
    """Restore the checked dump of `plan`, replacing the tables it names."""
    started = time.perf_counter()
    say = progress or (lambda _text: None)
    import psycopg

    version = plan.meta.timescaledb_version
    try:
        if plan.replaces:
            say(f"removing the {len(plan.replaces)} tables of {plan.database}")
            with catalog.connect(settings, autocommit=False) as conn:
                _clear(conn, plan.server.major)
                conn.commit()
        with catalog.connect(settings) as conn:
            if version is not None:
                say(f"preparing {plan.database} for TimescaleDB's restore")
                _create_extension(conn, version)
                conn.execute("SELECT timescaledb_pre_restore()")
            try:
                warnings = _pg_restore(settings, plan, say)
            finally:
                if version is not None:
                    conn.execute("SELECT timescaledb_post_restore()")
    except psycopg.Error as exc:
        raise database_error(exc, "restoring the dump") from None
    return RestoreResult(
        file=plan.file,
        size_bytes=plan.meta.size_bytes,
        database=plan.database,
        tables=plan.meta.tables,
        replaced=plan.replaces,
        timescaledb_version=version,
        revision=plan.meta.revision,
        seconds=time.perf_counter() - started,
        pg_restore=plan.pg_restore,
        warnings=warnings,
    )


def _clear(conn: psycopg.Connection[Any], major: int) -> None:
    """Drop the timescaledb extension and every user schema; give back an empty public."""
    from psycopg import sql

    conn.execute("DROP EXTENSION IF EXISTS timescaledb CASCADE")
    for schema in catalog.user_schemas(conn):
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    # public as initdb makes it, so the dump's own changes to it apply as they did
    if major >= 15:
        conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
    else:
        conn.execute("CREATE SCHEMA public")
        conn.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
    conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")


def _create_extension(conn: psycopg.Connection[Any], version: str) -> None:
    from psycopg import sql

    conn.execute(
        sql.SQL("CREATE EXTENSION IF NOT EXISTS timescaledb VERSION {}").format(
            sql.Literal(version)
        )
    )


def _pg_restore(settings: Settings, plan: RestorePlan, say: Progress) -> list[str]:
    def step(kind: str) -> None:
        counts = messages.counts
        if kind == TABLE_STEP:
            say(f"creating tables: {counts[TABLE_STEP]}")
        elif kind == DATA_STEP:
            say(f"restoring table data: {counts[DATA_STEP]} of {plan.data_entries}")
        else:
            say(f"creating indexes and constraints: {sum(counts[s] for s in INDEX_STEPS)}")

    messages = Messages(
        "pg_restore",
        Redactor.for_settings(settings),
        steps=(TABLE_STEP, DATA_STEP, *INDEX_STEPS),
        step=step,
    )
    say(f"restoring {plan.file} with {plan.pg_restore}")
    args = ["--single-transaction", "--exit-on-error", "--no-owner", "--verbose"]
    args.append(f"--dbname={settings.postgres_db}")  # the rest of the connection: from PG*
    with plan.file.open("rb") as archive_file:
        code = clients.run(plan.client, args, stdin=archive_file, on_stderr=messages)
    if code != 0:
        removed = " (the tables it was to replace were removed)" if plan.replaces else ""
        reason = re.sub(r"\s+", " ", messages.reason(code))
        raise OperationError(
            f"pg_restore failed: {reason}",
            hint="nothing of the dump was restored: it is restored in one transaction"
            + removed
            + (
                "; the dump uses compression, which this server's Apache edition lacks"
                if "apache" in reason.lower()
                else ""
            ),
        )
    return messages.warnings
