"""The small interface every runtime satisfies, and how one is chosen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from macroinfra.errors import UsageError

if TYPE_CHECKING:
    from macroinfra.settings import Settings

# Every service of the stack, in start order. Kafka runs only under the compose `full` profile.
SERVICES: tuple[str, ...] = ("timescaledb", "redis", "mongodb", "kafka", "minio")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # "running", "stopped", "starting", "unhealthy", "not provided", ...
    health: str | None = None  # "healthy", "unhealthy", "starting", or None when unknown
    ports: list[str] = field(default_factory=list)
    detail: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class StackResult:
    runtime: str
    services: list[ServiceState]
    message: str | None = None  # e.g. "services are managed elsewhere"
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class Runtime(Protocol):
    name: str

    def up(
        self, services: Sequence[str] = (), *, timeout: float, progress: Progress | None = None
    ) -> StackResult: ...

    def down(self, *, volumes: bool = False) -> StackResult: ...

    def ps(self) -> StackResult: ...

    def volumes(self) -> list[str]:
        """What `down --volumes` would delete, for the confirmation prompt."""
        ...


def validate_services(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise UsageError(
            f"unknown service {', '.join(unknown)}",
            hint=f"valid services: {', '.join(SERVICES)}",
        )
    return list(names)


@dataclass(frozen=True)
class Selection:
    runtime: Runtime
    reason: str  # why this runtime was picked (shown by `auto`)


def select_runtime(settings: Settings, name: str | None = None) -> Selection:
    """The runtime named by --runtime or the setting; `auto` picks compose when a Docker
    engine answers, else local."""
    choice = name or settings.runtime
    if choice not in {"auto", "compose", "local", "external"}:
        raise UsageError(
            f"unknown runtime {choice!r}", hint="use one of: auto, compose, local, external"
        )
    if choice == "local":
        from macroinfra.runtime.local import LocalRuntime

        return Selection(LocalRuntime(settings), "chosen by the runtime setting")
    if choice == "external":
        from macroinfra.runtime.external import ExternalRuntime

        return Selection(ExternalRuntime(settings), "chosen by the runtime setting")
    if choice == "compose":
        from macroinfra.runtime.compose import ComposeRuntime

        return Selection(ComposeRuntime(settings), "chosen by the runtime setting")
    from macroinfra.runtime.compose import docker_engine_reachable

    if docker_engine_reachable():
        from macroinfra.runtime.compose import ComposeRuntime

        return Selection(ComposeRuntime(settings), "auto: a Docker engine answers")
    from macroinfra.runtime.local import LocalRuntime

    return Selection(
        LocalRuntime(settings), "auto: no Docker engine answers, using local processes"
    )
