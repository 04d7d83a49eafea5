"""Where services run: compose (Docker Compose), local (processes), external (elsewhere).

`base` is the interface they share, `select` picks one; each concrete runtime is imported
only when it is chosen.
"""

from macroinfra.runtime.base import Runtime, ServiceState, StackResult
from macroinfra.runtime.select import Selection, select_runtime

__all__ = ["Runtime", "Selection", "ServiceState", "StackResult", "select_runtime"]
