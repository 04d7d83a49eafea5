"""Which processes are ours: a live process of the right program whose working folder is one
of our own folders. A stale pid file can name any process; its working folder it cannot share
with ours (PostgreSQL and Redis both change into their data folder when they start)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from macroinfra.errors import OperationError

POLL_S = 0.05


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (one that exited, not yet reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def runs_in(pid: int, folder: Path, program: str, *, below: bool = False) -> bool:
    """True if `pid` is a live `program` working in `folder` (or in a folder inside it, with
    `below`). A process we may not inspect is not ours."""
    return _runs_in(pid, os.path.realpath(folder), program.encode(), below)


def processes_in(folder: Path, program: str, *, below: bool = False) -> list[int]:
    """Every live `program` working in `folder` (or inside it, with `below`)."""
    root, name = os.path.realpath(folder), program.encode()
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if pid != os.getpid() and _runs_in(pid, root, name, below)]


def _runs_in(pid: int, root: str, program: bytes, below: bool) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    inside = cwd == root or (below and cwd.startswith(root.rstrip("/") + "/"))
    return inside and program in cmdline and alive(pid)


def wait_none_in(folder: Path, program: str, deadline: float) -> list[int]:
    """Wait until no `program` works in `folder` (e.g. the children of a killed PostgreSQL,
    which exit once they notice); those still there at `deadline`."""
    while (left := processes_in(folder, program)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return left


def kill_all_in(folder: Path, program: str, deadline: float) -> None:
    """SIGKILL every `program` working in `folder` or below it, and wait until they are gone."""
    while pids := processes_in(folder, program, below=True):
        if time.monotonic() > deadline:
            raise OperationError(
                f"processes {', '.join(map(str, pids))} in {folder} did not stop",
                hint="stop them yourself, then run the command again",
            )
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(POLL_S)


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(POLL_S)
    raise OperationError(f"process {pid} did not stop within {timeout:.0f} s")
