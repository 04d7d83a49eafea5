"""The small interface every runtime satisfies (`Runtime`), and the values it returns.

A runtime is the one place that knows which services it runs (`provided`), why it skips the
others (`skip_reason`), and where the services it runs listen (`port_claims`); `doctor`,
`ps`, `status` and `up`'s port pre-flight ask it. Choosing a runtime is `runtime.select`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from macroinfra.errors import UsageError
from macroinfra.services import PROFILES, Profile, ServiceName

if TYPE_CHECKING:
    from macroinfra.runtime.ports import PortClaim
    from macroinfra.settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # "running", "stopped", "starting", "unhealthy", "not provided", ...
    health: str | None = None  # "healthy", "unhealthy", "starting", or None when unknown
    ports: list[str] = field(default_factory=list)
    detail: str | None = None


@dataclass(frozen=True)
class StackResult:
    runtime: str
    services: list[ServiceState]
    message: str | None = None  # e.g. "services are managed elsewhere"
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    selected_because: str | None = None  # why this runtime answers (set by the caller)


class Runtime(ABC):
    """What every runtime answers and does. Callers use the public methods; `up` and
    `restart` check the names and default the progress once, then call the runtime's own
    `_up` and `_restart`."""

    name: ClassVar[str]
    settings: Settings

    # -- what it runs, and where -----------------------------------------------------------------

    @abstractmethod
    def provided(self, profiles: Sequence[str] = ()) -> tuple[str, ...]:
        """The services it runs, in start order, with those the `profiles` add."""

    @abstractmethod
    def skip_reason(self, service: str) -> str:
        """Why `doctor` skips a service this runtime does not provide."""

    @abstractmethod
    def port_claims(self, services: Sequence[str]) -> list[PortClaim]:
        """The host addresses these services take, each with the setting that moves it."""

    # -- the lifecycle ---------------------------------------------------------------------------

    def up(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float,
        progress: Progress | None = None,
        profiles: Sequence[str] = (),
        wait: bool = True,
    ) -> StackResult:
        """Start the services (default: all the runtime provides, plus those of `profiles`)
        and, with `wait`, return once every one accepts clients. Idempotent."""
        from macroinfra.errors import ServiceUnhealthy
        from macroinfra.runtime import owner

        names, active = validate_services(services), validate_profiles(profiles)
        owner.claim(self.settings, self.name)
        try:
            result = self._up(names, active, timeout=timeout, say=progress or _quiet, wait=wait)
        except ServiceUnhealthy:  # started but not ready: it still belongs to this runtime
            owner.record(self.settings, self.name)
            raise
        if warning := owner.record(self.settings, self.name):
            message = f"{result.message}; {warning}" if result.message else warning
            result = replace(result, message=message)
        return result

    def restart(
        self, services: Sequence[str] = (), *, timeout: float, progress: Progress | None = None
    ) -> StackResult:
        """Restart the services (default: every one running) and wait until they are ready."""
        names = validate_services(services)
        return self._restart(names, timeout=timeout, say=progress or _quiet)

    @abstractmethod
    def _up(
        self, names: list[str], profiles: list[str], *, timeout: float, say: Progress, wait: bool
    ) -> StackResult: ...

    @abstractmethod
    def _restart(self, names: list[str], *, timeout: float, say: Progress) -> StackResult: ...

    def down(self, *, volumes: bool = False) -> StackResult:
        """Stop every service (of every profile); delete their data only with `volumes`. The
        stack is ended: `auto` decides afresh next time."""
        from macroinfra.runtime import owner

        result = self._down(volumes=volumes)
        owner.forget(self.settings, self.name)
        return result

    @abstractmethod
    def _down(self, *, volumes: bool) -> StackResult: ...

    @abstractmethod
    def ps(self) -> StackResult: ...

    @abstractmethod
    def volumes(self) -> list[str]:
        """What `down --volumes` would delete, for the confirmation prompt."""

    @abstractmethod
    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        """Log lines of one service (or all), oldest first; with `follow`, never ends."""


def _quiet(_message: str) -> None:
    """Progress nobody asked for."""


def _unknown(names: Sequence[str], choices: type[StrEnum]) -> list[str]:
    known = {member.value for member in choices}
    return [str(n) for n in names if n not in known]


def validate_services(names: Sequence[str]) -> list[str]:
    """The names as plain strings; UsageError naming any that is not a ServiceName."""
    if unknown := _unknown(names, ServiceName):
        raise UsageError(
            f"unknown service {', '.join(unknown)}",
            hint=f"valid services: {', '.join(ServiceName)}",
        )
    return [str(n) for n in names]


def validate_profiles(names: Sequence[str]) -> list[str]:
    """The names as plain strings, once each; UsageError naming any that is not a Profile."""
    if unknown := _unknown(names, Profile):
        raise UsageError(
            f"unknown profile {', '.join(unknown)}",
            hint="valid profiles: "
            + ", ".join(f"{p} (adds {', '.join(s)})" for p, s in PROFILES.items()),
        )
    return list(dict.fromkeys(str(n) for n in names))
