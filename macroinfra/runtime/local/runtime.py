"""The local runtime: server processes on 127.0.0.1, for machines without a Docker engine.

It runs the servers of `SERVERS` (PostgreSQL with TimescaleDB, Redis), their files under the
state folder, on the ports the settings give. Everything it knows about one server it asks
that server's object; what it provides is exactly that list.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from macroinfra.errors import OperationError, UsageError
from macroinfra.runtime.base import Progress, Runtime, ServiceState, StackResult
from macroinfra.runtime.local.files import check_writable, plain_os_errors, state_lock
from macroinfra.runtime.local.postgres import PostgresServer
from macroinfra.runtime.local.redis import RedisServer
from macroinfra.runtime.local.server import LocalServer
from macroinfra.runtime.ports import PortClaim, ensure_ports_free
from macroinfra.services import SERVICES

if TYPE_CHECKING:
    from macroinfra.settings import Settings

# The servers it runs, in start order.
SERVERS: tuple[type[LocalServer], ...] = (PostgresServer, RedisServer)
NOT_PROVIDED_DETAIL = "not run by the local runtime (use compose, or a server elsewhere)"
FOLLOW_POLL_S = 0.2  # how often `logs --follow` looks for new lines
LOCK_WAIT_S = 300.0  # how long `down` waits for an `up` or `restart` to finish


class LocalRuntime(Runtime):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = Path(settings.state_dir).absolute()
        self.servers: list[LocalServer] = [kind(settings, self.state_dir) for kind in SERVERS]

    def server(self, name: str) -> LocalServer:
        """The server that runs this service (KeyError when it runs no such service)."""
        found = {s.name: s for s in self.servers}
        return found[name]

    # -- what it runs, and where -----------------------------------------------------------------

    def provided(self, profiles: Sequence[str] = ()) -> tuple[str, ...]:
        return tuple(s.name for s in self.servers)  # profiles add only what it cannot run

    def skip_reason(self, service: str) -> str:
        return f"not provided by the {self.name} runtime"

    def port_claims(self, services: Sequence[str]) -> list[PortClaim]:
        return [self.server(s).claim() for s in services]

    # -- the runtime interface -------------------------------------------------------------------

    def _up(
        self, names: list[str], profiles: list[str], *, timeout: float, say: Progress, wait: bool
    ) -> StackResult:
        # Profiles only add services this runtime does not run. It always waits: the database
        # is created once PostgreSQL answers.
        wanted = self._wanted(names)
        deadline = time.monotonic() + timeout
        with self._locked(deadline, make=True):
            return self._start(wanted, deadline, say)

    def _start(self, wanted: list[LocalServer], deadline: float, say: Progress) -> StackResult:
        running = [s for s in wanted if s.pid() is not None]
        for server in running:
            server.check_port()
        to_start = [s for s in wanted if s not in running]
        ensure_ports_free(self.port_claims([s.name for s in to_start]))
        if self.settings.local_tls and to_start:
            from macroinfra.runtime.local.tls import ensure_certificates

            ensure_certificates(self.state_dir)
        for server in to_start:  # every server's files are checked before any server starts
            server.prepare(deadline)
        for server in to_start:
            server.start(deadline, say)
        for server in wanted:
            server.wait_ready(deadline, say)
        return StackResult(
            runtime=self.name,
            services=self._states(),
            started=[s.name for s in to_start],
            already_running=[s.name for s in running],
        )

    def _down(self, *, volumes: bool = False) -> StackResult:
        stopped: list[str] = []
        deleted: list[str] = []
        with self._locked(time.monotonic() + LOCK_WAIT_S, make=False):
            stopped = [s.name for s in self.servers if s.stop()]
            if volumes:
                deleted = [path for s in self.servers for path in s.delete_data()]
        return StackResult(self.name, self._states(), stopped=stopped, deleted=deleted)

    def ps(self) -> StackResult:
        return StackResult(self.name, self._states())

    def volumes(self) -> list[str]:
        return [str(p) for s in self.servers for p in s.data_paths if p.exists()]

    def _restart(self, names: list[str], *, timeout: float, say: Progress) -> StackResult:
        wanted = self._wanted(names)
        deadline = time.monotonic() + timeout
        with self._locked(deadline, make=True):
            restarted = [s.name for s in wanted if s.stop()]
            result = self._start(wanted, deadline, say)
        started = [s for s in result.started if s not in restarted]  # was not running
        return replace(result, started=started, already_running=[], restarted=restarted)

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        files = {s.name: s.log for s in self._wanted([service] if service else [])}
        return tail_files(files, follow=follow, tail=tail)

    # -- helpers ---------------------------------------------------------------------------------

    def _wanted(self, services: Sequence[str]) -> list[LocalServer]:
        provided = self.provided()
        if others := [s for s in services if s not in provided]:
            raise UsageError(
                f"the local runtime does not run {', '.join(others)}",
                hint=f"it runs {' and '.join(provided)}; use --runtime compose for the others",
            )
        return [s for s in self.servers if not services or s.name in services]

    @contextmanager
    def _locked(self, deadline: float, *, make: bool) -> Iterator[None]:
        """Hold the state folder's lock: one `up`, `down` or `restart` at a time acts on it
        (`ps` and `logs` only read). With `make`, the folder is made first (0700)."""
        with plain_os_errors(self.state_dir):
            if make:
                self._make_state_dir()
            elif not self.state_dir.is_dir():
                yield  # nothing was ever started from it
                return
            with state_lock(self.state_dir, deadline):
                yield

    def _make_state_dir(self) -> None:
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise OperationError(
                f"cannot create the state folder {self.state_dir}: {exc.strerror}",
                hint="set MACROINFRA_STATE_DIR to a folder you can write",
            ) from None
        check_writable(self.state_dir)

    def _states(self) -> list[ServiceState]:
        provided = {s.name: s for s in self.servers}
        return [
            provided[name].state()
            if name in provided
            else ServiceState(name, "not provided", detail=NOT_PROVIDED_DETAIL)
            for name in SERVICES
        ]


def tail_files(files: dict[str, Path], *, follow: bool, tail: int | None) -> Iterator[str]:
    """The last `tail` lines of each log file (prefixed by service when there are several);
    with `follow`, then every line appended, until interrupted."""
    prefix = len(files) > 1
    offsets: dict[str, int] = {}
    for service, path in files.items():
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        offsets[service] = len(data)
        lines = data.decode(errors="replace").splitlines()
        for line in lines if tail is None else lines[max(len(lines) - tail, 0) :]:
            yield f"{service} | {line}" if prefix else line
    while follow:
        grew = False
        for service, path in files.items():
            try:
                with path.open("rb") as f:
                    f.seek(offsets[service])
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # whole lines only; the rest is read next time
            if end:
                grew = True
                offsets[service] += end
                for line in data[:end].decode(errors="replace").splitlines():
                    yield f"{service} | {line}" if prefix else line
        if not grew:
            time.sleep(FOLLOW_POLL_S)
