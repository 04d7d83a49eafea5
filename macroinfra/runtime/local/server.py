"""What every server process of the local runtime has in common, and what each must say.

A `LocalServer` is one program (PostgreSQL, Redis) run in the background from files under the
state folder, listening on 127.0.0.1 at the port of its service's setting. `LocalRuntime`
holds a list of them and asks each in turn; a server of its own is one more subclass.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from macroinfra.errors import OperationError
from macroinfra.runtime.base import ServiceState
from macroinfra.runtime.ports import PortClaim, loopback_claim
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.redaction import Redactor
    from macroinfra.runtime.base import Progress
    from macroinfra.settings import Settings

POLL_S = 0.05


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
        """What `down --volumes` deletes: its data and log (and any file of its own)."""
        return [self.data, self.log]

    @property
    def name(self) -> str:
        return self.service.value

    def claim(self) -> PortClaim:
        """The port it listens on, and the setting that moves it (e.g. POSTGRES_PORT)."""
        return loopback_claim(self.settings, self.name)

    # -- what each server does its own way -------------------------------------------------------

    @abstractmethod
    def prepare(self) -> None:
        """Make its folders and check it can start, before any server starts (the state
        folder exists by then)."""

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

    def pid(self) -> int | None:
        """The pid of our running server, or None (no pid file, or its process is gone)."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return pid if self.program.encode() in cmdline and alive(pid) else None

    def listening_port(self) -> int | None:
        try:
            return self._configured_port()
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> bool:
        """Stop it; False if it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        self._terminate(pid)
        return True

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
        pid = self.pid()
        if pid is None:
            return ServiceState(self.name, "stopped")
        ports = [f"127.0.0.1:{self.listening_port()}"]
        return ServiceState(self.name, "running", ports=ports, detail=f"pid {pid}")

    @cached_property
    def redact(self) -> Redactor:
        from macroinfra.redaction import Redactor

        return Redactor.for_settings(self.settings)


def last_line(path: Path) -> str | None:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (nothing may reap a daemon here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(POLL_S)
    raise OperationError(f"process {pid} did not stop within {timeout:.0f} s")
