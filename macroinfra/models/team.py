"""A team's own models (MACROINFRA_MODELS): a dotted module, importable from the working
folder, whose models subclass macroinfra's Base and so extend its metadata."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import TYPE_CHECKING, Any

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
    """The shipped spec plus the tables of the team's models and the hypertables they declare.

    Only the models of macroinfra and of the module MACROINFRA_MODELS names count: a model
    defined anywhere else in the process (a notebook's, say) is not part of the schema."""
    from macroinfra.models.declare import declared_hypertables

    dotted = settings.models.strip() if settings is not None and settings.models else None
    import_models(dotted)
    shipped = _tables_of(("macroinfra.models",))
    team = _tables_of((dotted,), unmapped=True) if dotted else {}
    team = {name: table for name, table in team.items() if name not in shipped}
    try:
        specs = declared_hypertables(team)
    except ValueError as exc:
        raise ConfigError(
            f"MACROINFRA_MODELS: {exc}", hint="fix the hypertable(...) declaration"
        ) from None
    return SHIPPED.with_team(specs, frozenset(shipped) | frozenset(team))


def _tables_of(modules: tuple[str, ...], *, unmapped: bool = False) -> dict[str, Any]:
    """The tables of macroinfra's metadata mapped by classes of `modules` (or their
    submodules); `unmapped`: and the tables no class maps."""
    from macroinfra.models import Base

    mapped: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        for table in mapper.tables:
            mapped[table.name] = mapper.class_.__module__
    out = {}
    for name, table in Base.metadata.tables.items():
        module = mapped.get(name)
        if module is None:
            if unmapped:
                out[name] = table
        elif any(module == m or module.startswith(m + ".") for m in modules):
            out[name] = table
    return out
