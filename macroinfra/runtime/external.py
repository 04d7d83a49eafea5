"""Services managed elsewhere (a managed database, another team's Redis): nothing to start."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from macroinfra.errors import UsageError
from macroinfra.runtime.base import SERVICES, Progress, ServiceState, StackResult

if TYPE_CHECKING:
    from macroinfra.settings import Settings

MESSAGE = (
    "services are managed elsewhere (runtime 'external'): nothing to start or stop; "
    "`macroinfra doctor` checks they answer"
)


class ExternalRuntime:
    name = "external"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def up(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float,
        progress: Progress | None = None,
        profiles: Sequence[str] = (),
        wait: bool = True,
    ) -> StackResult:
        return self.ps()

    def down(self, *, volumes: bool = False) -> StackResult:
        return self.ps()

    def ps(self) -> StackResult:
        return StackResult(
            runtime=self.name,
            services=[ServiceState(s, "external", detail="managed elsewhere") for s in SERVICES],
            message=MESSAGE,
        )

    def volumes(self) -> list[str]:
        return []

    def restart(
        self, services: Sequence[str] = (), *, timeout: float, progress: Progress | None = None
    ) -> StackResult:
        return self.ps()

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        raise UsageError(
            "services are managed elsewhere (runtime 'external'): macroinfra has no logs of them",
            hint="read them where they run; `macroinfra doctor` checks they answer",
        )
