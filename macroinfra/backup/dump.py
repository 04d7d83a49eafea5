"""`dump`: the configured database to one pg_dump custom-format file, with its record.

The record is read in the very snapshot pg_dump dumps: a repeatable-read transaction exports
its snapshot, pg_dump runs with `--snapshot`, and the row counts, TimescaleDB's version and the
migration revision are read in that transaction while pg_dump runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.backup import archive, catalog, clients
from macroinfra.backup.catalog import TableRows
from macroinfra.backup.messages import Messages
from macroinfra.errors import OperationError
from macroinfra.pg import database_error
from macroinfra.redaction import Redactor

if TYPE_CHECKING:
    import psycopg

    from macroinfra.settings import Settings

Progress = Callable[[str], None]
DATA_STEP = "dumping contents of table"


@dataclass(frozen=True)
class DumpResult:
    file: Path
    meta_file: Path
    size_bytes: int
    database: str
    tables: list[TableRows]
    timescaledb_version: str | None
    revision: str | None
    server_version: str
    seconds: float
    pg_dump: str  # which pg_dump ran
    warnings: list[str] = field(default_factory=list)
    __json_properties__ = ("rows",)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def dump(
    settings: Settings,
    file: Path,
    *,
    compress: int | None = None,
    progress: Progress | None = None,
) -> DumpResult:
    """Dump the configured database to `file` (replaced if it exists) and `file`.meta.json.
    `compress`: pg_dump's compression level, 0-9 (default: pg_dump's own)."""
    started = time.perf_counter()
    say = progress or (lambda _text: None)
    file = Path(file)
    fd, partial = archive.partial_file(file)
    try:
        with os.fdopen(fd, "wb") as out:
            meta, client, warnings = _dump_into(settings, out, compress, say)
            out.flush()
            os.fsync(out.fileno())
            size = os.fstat(out.fileno()).st_size
        say("recording the dump")
        meta = replace(meta, size_bytes=size, sha256=archive.sha256(partial))
        archive.put_in_place(partial, file, meta)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return DumpResult(
        file=file,
        meta_file=archive.meta_path(file),
        size_bytes=size,
        database=meta.database,
        tables=meta.tables,
        timescaledb_version=meta.timescaledb_version,
        revision=meta.revision,
        server_version=meta.server_version,
        seconds=time.perf_counter() - started,
        pg_dump=client.description,
        warnings=warnings,
    )


def _dump_into(
    settings: Settings, out: Any, compress: int | None, say: Progress
) -> tuple[archive.DumpMeta, clients.Client, list[str]]:
    """Run pg_dump into `out` in an exported snapshot; the record (without size and hash)."""
    from psycopg import IsolationLevel

    say(f"connecting to {settings.postgres_db}")
    conn = catalog.connect(settings, autocommit=False)
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        server = catalog.read_versions(conn)
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        client = clients.find_client(settings, "pg_dump", server.major)
        say(f"dumping {settings.postgres_db} with {client.description}")
        record = _Record(conn)
        reader = threading.Thread(target=record.read, name="dump-record", daemon=True)
        reader.start()
        messages = Messages(
            "pg_dump",
            Redactor.for_settings(settings),
            steps=(DATA_STEP,),
            step=lambda _s: say(
                f"dumping table data: {messages.counts[DATA_STEP]} tables, "
                f"{_megabytes(os.fstat(out.fileno()).st_size)} written"
            ),
        )
        args = ["--format=custom", f"--snapshot={row[0]}", "--verbose"]
        if compress is not None:
            args.append(f"--compress={compress}")
        code = clients.run(client, args, stdout=out, on_stderr=messages)
        reader.join()
        if code != 0:
            raise OperationError(
                f"pg_dump failed: {messages.reason(code)}",
                hint=f"nothing was written to the dump file ({client.description})",
            )
        if record.failure is not None:
            raise record.failure
        meta = archive.DumpMeta(
            database=settings.postgres_db,
            server_version=server.version,
            server_major=server.major,
            timescaledb_version=server.timescaledb,
            revision=record.revision,
            size_bytes=0,
            sha256="",
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tables=record.tables,
        )
        return meta, client, messages.warnings
    finally:
        conn.close()


class _Record:
    """Reads the tables' row counts and the revision in the dump's snapshot (in a thread)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.tables: list[TableRows] = []
        self.revision: str | None = None
        self.failure: OperationError | None = None

    def read(self) -> None:
        import psycopg

        try:
            self.revision = catalog.revision(self.conn)
            self.tables = catalog.count_rows(self.conn, catalog.user_tables(self.conn))
        except psycopg.Error as exc:
            self.failure = database_error(exc, "counting the rows dumped")


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
