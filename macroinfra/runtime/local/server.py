"""What every server process of the local runtime has in common, and what each must say.

A `LocalServer` is one program (PostgreSQL, Redis) run in the background from files under the
state folder, listening on 127.0.0.1 at the port of its service's setting. `LocalRuntime`
holds a list of them and asks each in turn; a server of its own is one more subclass.

The process its pid file names is ours only if it runs the program and works in its data
folder: a stale pid file naming a stranger is reported as stale, never signalled, and the next
start replaces it. What it owns is private to its owner: folders 0700, files 0600.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from macroinfra.errors import OperationError
from macroinfra.runtime.base import ServiceState
from macroinfra.runtime.local.files import remove, restrict
from macroinfra.runtime.local.processes import alive, runs_in, wait_none_in
from macroinfra.runtime.ports import PortClaim, loopback_claim
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.redaction import Redactor
    from macroinfra.runtime.base import Progress
    from macroinfra.settings import Settings

HEALTH_TIMEOUT_S = 0.5  # `ps` looks at each running server's port this long at most
LEFTOVER_WAIT_S = 10.0  # how long the children of a killed server may take to exit


class LocalServer(ABC):
    """One server program: where its files are, how it starts, answers, stops and reports."""

    service: ClassVar[ServiceName]
    program: ClassVar[str]  # the executable, as /proc/<pid>/cmdline of a running one names it
    folder: ClassVar[str]  # its data folder in the state folder; its log is <folder>.log

    def __init__(self, settings: Settings, state_dir: Path) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.data = state_dir / self.folder
        self.log = state_dir / f"{self.folder}.log"

    @property
    @abstractmethod
    def pidfile(self) -> Path:
        """The file holding its pid (first line) while it runs."""

    @property
    def data_paths(self) -> list[Path]:
        """Every file it owns: kept private on each start, deleted by `down --volumes`."""
        return [self.data, self.log]

    @property
    def name(self) -> str:
        return self.service.value

    def claim(self) -> PortClaim:
        """The port it listens on, and the setting that moves it (e.g. POSTGRES_PORT)."""
        return loopback_claim(self.settings, self.name)

    # -- what each server does its own way -------------------------------------------------------

    @abstractmethod
    def _prepare(self, deadline: float) -> None:
        """Make and check its own files (the state folder exists, and is locked, by then)."""

    @abstractmethod
    def start(self, deadline: float, say: Progress) -> None:
        """Start the process in the background; raise if it does not start by `deadline`."""

    @abstractmethod
    def wait_ready(self, deadline: float, say: Progress) -> None:
        """Return once it accepts the configured clients; raise by `deadline` otherwise."""

    @abstractmethod
    def _terminate(self, pid: int) -> None:
        """Stop the running process `pid` and return once it is gone."""

    @abstractmethod
    def _configured_port(self) -> int:
        """The port the running server was started on, from its own files (may raise)."""

    # -- common to every server ------------------------------------------------------------------

    def prepare(self, deadline: float) -> None:
        """Get its files ready and check them, before any server starts; called (under the
        state folder's lock) only for a server that is not running, so a pid file is stale."""
        self._prepare(deadline)
        wait = min(deadline, time.monotonic() + LEFTOVER_WAIT_S)
        if left := wait_none_in(self.data, self.program, wait):
            raise OperationError(
                f"{self.name}: processes {', '.join(map(str, left))} still run in {self.data}",
                hint="a server that was killed left them behind; stop them, then run up again",
            )
        self.pidfile.unlink(missing_ok=True)
        for path in self.data_paths:
            restrict(path)

    def pid(self) -> int | None:
        """The pid of our running server, or None (no pid file, or it names no server of ours)."""
        pid = self._pid_in_file()
        return pid if pid is not None and runs_in(pid, self.data, self.program) else None

    def _pid_in_file(self) -> int | None:
        try:
            return int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def listening_port(self) -> int | None:
        try:
            return self._configured_port()
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> bool:
        """Stop it; False if it was not running. Never signals a process that is not ours."""
        pid = self.pid()
        if pid is None:
            return False
        self._terminate(pid)
        return True

    def delete_data(self) -> list[str]:
        """Delete its data, log and files (`down --volumes`, once it is stopped)."""
        deleted = [p for p in self.data_paths if p.exists() or p.is_symlink()]
        for path in deleted:
            remove(path)
        return [str(p) for p in deleted]

    def check_port(self) -> None:
        """A running server must listen where the settings say, or clients miss it."""
        claim, actual = self.claim(), self.listening_port()
        if actual is not None and actual != claim.port:
            raise OperationError(
                f"{self.name} already runs from {self.state_dir} on port {actual}, "
                f"but {claim.setting} is {claim.port}",
                hint="run `macroinfra down` first, or set it back",
            )

    def state(self) -> ServiceState:
        pid = self._pid_in_file()
        if pid is None:
            return ServiceState(self.name, "stopped")
        if not runs_in(pid, self.data, self.program):
            why = "not ours" if alive(pid) else "which has exited"
            detail = f"stale pid file {self.pidfile} names pid {pid}, {why}"
            return ServiceState(self.name, "stopped", detail=detail)
        port = self.listening_port()
        health = self.health(port)
        return ServiceState(self.name, "running", health, [f"127.0.0.1:{port}"], f"pid {pid}")

    def health(self, port: int | None) -> str:
        """ready (it accepts connections), starting, or unreachable: a quick look for `ps`,
        not a login (`doctor` logs in)."""
        import socket

        if port is None:
            return "unreachable"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=HEALTH_TIMEOUT_S):
                return "ready"
        except OSError:
            return "unreachable"

    @cached_property
    def redact(self) -> Redactor:
        from macroinfra.redaction import Redactor

        return Redactor.for_settings(self.settings)


def log_size(path: Path) -> int:
    """Where the log ends now: a failed start reports only what was written after it."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_since(path: Path, offset: int) -> list[str]:
    """The non-blank lines written to the log from `offset` on."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()]
