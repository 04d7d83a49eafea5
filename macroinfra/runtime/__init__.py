"""Where services run: compose (Docker Compose), local (processes), external (elsewhere)."""

from macroinfra.runtime.base import (
    SERVICES,
    Runtime,
    ServiceState,
    StackResult,
    select_runtime,
)

__all__ = ["SERVICES", "Runtime", "ServiceState", "StackResult", "select_runtime"]
