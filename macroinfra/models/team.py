"""A team's own models (MACROINFRA_MODELS): a dotted module, importable from the working
folder, whose models subclass macroinfra's Base and so extend its metadata."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import TYPE_CHECKING

from macroinfra.errors import ConfigError, first_line
from macroinfra.timescale.spec import SHIPPED, Declared

if TYPE_CHECKING:
    from macroinfra.settings import Settings

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def import_models(dotted: str | None) -> None:
    """Import the team's models module (once; later calls find it imported).

    Raises ConfigError (exit 2) with one line when it cannot be imported or fails."""
    if dotted is None:
        return
    name = dotted.strip()
    if not _DOTTED.fullmatch(name):
        raise ConfigError(
            f"MACROINFRA_MODELS={dotted!r} is not a dotted module path",
            hint="give a module importable from this folder, e.g. MACROINFRA_MODELS=myteam.models",
        )
    if name in sys.modules:
        return
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"MACROINFRA_MODELS={name}: cannot import it ({first_line(exc)})",
            hint=f"the module must be importable from the working folder {cwd}",
        ) from None
    except (Exception, SystemExit) as exc:  # the team's code failed: say where, in one line
        raise ConfigError(
            f"MACROINFRA_MODELS={name} failed on import: {type(exc).__name__}: {first_line(exc)}",
            hint=f"run `python -c 'import {name}'` in {cwd} to see the whole error",
        ) from None


def declared(settings: Settings | None) -> Declared:
    """The shipped spec plus the hypertables the team's models declare (if any)."""
    from macroinfra.models import Base
    from macroinfra.models.declare import declared_hypertables

    if settings is not None:
        import_models(settings.models)
    try:
        team = declared_hypertables(Base.metadata.tables)
    except ValueError as exc:
        raise ConfigError(
            f"MACROINFRA_MODELS: {exc}", hint="fix the hypertable(...) declaration"
        ) from None
    return SHIPPED.with_team(team) if team else SHIPPED
