"""The dump file and what is recorded with it.

A dump is pg_dump's custom format (`-Fc`) in FILE, and beside it `FILE.meta.json`: the
versions the database had (PostgreSQL, TimescaleDB, macroinfra's migration revision), its
tables and row counts, and the dump's size and SHA-256, which bind the two files together.
Both are written under temporary names in FILE's folder and renamed into place once complete,
the record first, so a FILE in place always has its record; a dump that failed or was killed
leaves at most a hidden `.FILE.*.partial`, never a FILE that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from macroinfra.backup.catalog import TableRows
from macroinfra.errors import OperationError, UsageError

META_SUFFIX = ".meta.json"
META_FORMAT = "macroinfra-dump"
META_FORMAT_VERSION = 1
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class DumpMeta:
    """What FILE.meta.json records about one dump."""

    database: str
    server_version: str
    server_major: int
    timescaledb_version: str | None  # None: the database had no TimescaleDB
    revision: str | None  # macroinfra's migration revision (None: never migrated)
    size_bytes: int
    sha256: str
    created_at: str  # ISO 8601, UTC
    tables: list[TableRows] = field(default_factory=list)

    def to_json(self) -> str:
        data = {"format": META_FORMAT, "format_version": META_FORMAT_VERSION, **asdict(self)}
        return json.dumps(data, indent=2) + "\n"


def meta_path(file: Path) -> Path:
    return file.with_name(file.name + META_SUFFIX)


def read_meta(file: Path) -> DumpMeta:
    """FILE's record; a UsageError when it is missing or not one."""
    path = meta_path(file)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{file} has no {path.name} beside it, so its TimescaleDB version is unknown",
            hint=f"put the {path.name} written with the dump (`macroinfra db dump`) beside it",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {_reason(exc)}") from None
    try:
        if data.pop("format") != META_FORMAT:
            raise ValueError("not a macroinfra dump record")
        if data.pop("format_version") > META_FORMAT_VERSION:
            raise ValueError("written by a newer macroinfra")
        data["tables"] = [TableRows(**t) for t in data.get("tables", [])]
        return DumpMeta(**data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a dump record: {_reason(exc)}") from None


def check_file(file: Path, meta: DumpMeta) -> None:
    """FILE is the very dump its record describes: same size, same SHA-256."""
    size = file.stat().st_size
    if size != meta.size_bytes:
        raise OperationError(
            f"{file} is truncated or changed: it has {size:,} bytes, "
            f"the dump wrote {meta.size_bytes:,}",
            hint="use a complete copy of the dump",
        )
    if sha256(file) != meta.sha256:
        raise OperationError(
            f"{file} is damaged or changed: its SHA-256 differs from the one recorded "
            f"in {meta_path(file).name}",
            hint="use an intact copy of the dump",
        )


def sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def readable_file(file: Path) -> None:
    """A UsageError unless FILE is a regular file this process can read."""
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {_reason(exc)}") from None
    if not file.is_file():
        raise UsageError(f"cannot read {file}: not a regular file")


def partial_file(file: Path) -> tuple[int, Path]:
    """A new hidden temporary file beside FILE (open, mode 0600): where the dump is written."""
    if file.is_dir():
        raise UsageError(f"cannot write {file}: it is a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=file.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {_reason(exc)}") from None
    return fd, Path(name)


def put_in_place(partial: Path, file: Path, meta: DumpMeta) -> None:
    """Write the record, then move the complete dump to FILE, both atomically and durably."""
    record = meta_path(file)
    fd, name = tempfile.mkstemp(prefix=f".{record.name}.", suffix=".partial", dir=file.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(meta.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, record)
        os.replace(partial, file)
        _sync_folder(file.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
