"""Choosing the runtime: the one --runtime or the setting names; `auto` asks Docker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from macroinfra.errors import UsageError
from macroinfra.services import RuntimeName

if TYPE_CHECKING:
    from macroinfra.runtime.base import Runtime
    from macroinfra.settings import Settings


@dataclass(frozen=True)
class Selection:
    runtime: Runtime
    reason: str  # why this runtime was picked (shown by `auto`)


def select_runtime(settings: Settings, name: str | None = None) -> Selection:
    """The runtime named by --runtime or the setting; `auto` picks compose when a Docker
    engine answers, else local."""
    choice = str(name or settings.runtime)
    try:
        kind = RuntimeName(choice)
    except ValueError:
        raise UsageError(
            f"unknown runtime {choice!r}", hint=f"use one of: {', '.join(RuntimeName)}"
        ) from None
    if kind is not RuntimeName.AUTO:
        return Selection(_runtime(kind, settings), "chosen by the runtime setting")
    from macroinfra.runtime.owner import owner_path, recorded_owner

    if (owner := recorded_owner(settings)) is not None:
        reason = f"auto: the stack was started under it (recorded in {owner_path(settings)})"
        return Selection(_runtime(owner, settings), reason)
    from macroinfra.runtime.compose.engine import docker_engine_reachable

    if docker_engine_reachable():
        kind, reason = RuntimeName.COMPOSE, "auto: a Docker engine answers"
    else:
        kind, reason = RuntimeName.LOCAL, "auto: no Docker engine answers, using local processes"
    return Selection(_runtime(kind, settings), reason)


def _runtime(kind: RuntimeName, settings: Settings) -> Runtime:
    """The runtime of that kind, its module imported only now."""
    if kind is RuntimeName.COMPOSE:
        from macroinfra.runtime.compose import ComposeRuntime

        return ComposeRuntime(settings)
    if kind is RuntimeName.LOCAL:
        from macroinfra.runtime.local import LocalRuntime

        return LocalRuntime(settings)
    from macroinfra.runtime.external import ExternalRuntime

    return ExternalRuntime(settings)
