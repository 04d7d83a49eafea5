"""Services managed elsewhere (a managed database, another team's Redis): nothing to start."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from macroinfra.errors import UsageError
from macroinfra.runtime.base import Runtime, ServiceState, StackResult
from macroinfra.services import SERVICES

if TYPE_CHECKING:
    from macroinfra.runtime.ports import PortClaim
    from macroinfra.settings import Settings

MESSAGE = (
    "services are managed elsewhere (runtime 'external'): nothing to start or stop; "
    "`macroinfra doctor` checks they answer"
)


class ExternalRuntime(Runtime):
    """Every service is provided (by someone else); every lifecycle command only reports."""

    name = "external"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def provided(self, profiles: Sequence[str] = ()) -> tuple[str, ...]:
        return SERVICES

    def skip_reason(self, service: str) -> str:
        return f"not provided by the {self.name} runtime"  # never asked: it provides them all

    def port_claims(self, services: Sequence[str]) -> list[PortClaim]:
        return []  # it listens on nothing

    def _up(self, names: list[str], profiles: list[str], **_waiting: object) -> StackResult:
        return self.ps()

    def _restart(self, names: list[str], **_waiting: object) -> StackResult:
        return self.ps()

    def _down(self, *, volumes: bool = False) -> StackResult:
        return self.ps()

    def ps(self) -> StackResult:
        return StackResult(
            runtime=self.name,
            services=[ServiceState(s, "external", detail="managed elsewhere") for s in SERVICES],
            message=MESSAGE,
        )

    def volumes(self) -> list[str]:
        return []

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        raise UsageError(
            "services are managed elsewhere (runtime 'external'): macroinfra has no logs of them",
            hint="read them where they run; `macroinfra doctor` checks they answer",
        )
