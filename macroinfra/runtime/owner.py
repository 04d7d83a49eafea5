"""Which runtime owns the stack: `up` records the runtime it started the stack under, in the
state folder, and `auto` then keeps to it until `down` ends the stack.

Without the record, a Docker engine that starts after a local stack came up would make `auto`
switch to compose: `ps` would show nothing created and `doctor` would probe the wrong thing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from macroinfra.errors import OperationError
from macroinfra.services import RuntimeName

if TYPE_CHECKING:
    from macroinfra.settings import Settings

OWNER_FILE = "runtime.json"
# The runtimes that start something: the external one owns nothing.
OWNING = (RuntimeName.COMPOSE, RuntimeName.LOCAL)


def owner_path(settings: Settings) -> Path:
    return Path(settings.state_dir).absolute() / OWNER_FILE


def recorded_owner(settings: Settings) -> RuntimeName | None:
    """The runtime `up` recorded, or None (no stack started, or an unreadable record)."""
    try:
        name = json.loads(owner_path(settings).read_text())["runtime"]
        owner = RuntimeName(name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return owner if owner in OWNING else None


def claim(settings: Settings, runtime: str) -> None:
    """Before `up`: refuse to start a second stack under another runtime than its owner's."""
    owner = recorded_owner(settings)
    if owner is not None and owner != runtime and runtime in OWNING:
        raise OperationError(
            f"the stack was started under the {owner} runtime, not {runtime}",
            hint=f"run `macroinfra down --runtime {owner}` first, or use --runtime {owner}",
        )


def record(settings: Settings, runtime: str) -> str | None:
    """After `up`: note the owner (written whole, 0600). Returns a warning when the state
    folder cannot hold it; the stack runs either way."""
    if runtime not in OWNING:
        return None
    path = owner_path(settings)
    try:
        from macroinfra.runtime.local.files import write_private

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{OWNER_FILE}.{os.getpid()}")
        write_private(partial, json.dumps({"runtime": str(runtime)}))
        partial.replace(path)
    except OSError as exc:
        return (
            f"could not record that the {runtime} runtime owns the stack in {path}: "
            f"{exc.strerror}; pass --runtime {runtime} to later commands"
        )
    return None


def forget(settings: Settings, runtime: str) -> None:
    """After `down` under the owner: the stack is ended, `auto` decides afresh next time."""
    if recorded_owner(settings) == runtime:
        owner_path(settings).unlink(missing_ok=True)
