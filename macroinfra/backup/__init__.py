"""Dump, restore and open a shell on the configured database.

`dump` writes pg_dump's custom format with a record of the versions it needs beside it;
`prepare_restore` checks a dump against the server without changing anything, and `restore`
follows TimescaleDB's procedure (pre_restore, pg_restore, post_restore); `shell` runs psql.
The client programs are the host's, of the server's major version, or under the compose
runtime those in the timescaledb container (`clients`). Passwords reach them through their
environment only.
"""

from macroinfra.backup.catalog import TableRows
from macroinfra.backup.dump import DumpResult, dump
from macroinfra.backup.restore import (
    RestorePlan,
    RestoreResult,
    VersionMismatch,
    prepare_restore,
    restore,
)
from macroinfra.backup.shell import shell

__all__ = [
    "DumpResult",
    "RestorePlan",
    "RestoreResult",
    "TableRows",
    "VersionMismatch",
    "dump",
    "prepare_restore",
    "restore",
    "shell",
]
