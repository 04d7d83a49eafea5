"""How macroinfra reaches each service: a connection URL parsed into the settings' parts, the
combinations of settings that cannot work, and the driver's connection arguments.

One module per service (postgres, redis, ...). Each may define:

- `url_fields(settings) -> dict[str, Any]`, with `URL_SETTING` (the field of that URL): the
  field values its URL setting (DATABASE_URL, REDIS_URL, ...) gives; fields the user set
  explicitly keep their value (a disagreement is one of `problems`). An invalid URL gives {}
  (its problem is reported by `problems`).
- `problems(settings) -> list[str]`: one line per combination that cannot work, naming the
  variables and what to do, never a secret value.

A new service is a new module here and one name in SERVICES.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from macroinfra.settings import Settings

# In order: a later one's URL fields win.
SERVICES = ("local", "postgres", "redis", "mongo", "kafka", "s3")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in SERVICES]


def url_fields(settings: Settings) -> dict[str, Any]:
    """Every field value that the services' URL settings give."""
    values: dict[str, Any] = {}
    for module in _modules():
        if hasattr(module, "url_fields"):
            values.update(module.url_fields(settings))
    return values


def url_sources(settings: Settings) -> dict[str, str]:
    """For each field a URL setting gave (not set explicitly), the variable that gave it."""
    from macroinfra.settings_sources import variable

    sources: dict[str, str] = {}
    for module in _modules():
        if hasattr(module, "url_fields"):
            name = variable(type(settings), module.URL_SETTING)
            sources.update(dict.fromkeys(module.url_fields(settings), name))
    return {k: v for k, v in sources.items() if k not in settings.model_fields_set}


def problems(settings: Settings) -> list[str]:
    """Every combination of settings that cannot work, one line each, over all services."""
    found: list[str] = []
    for module in _modules():
        if hasattr(module, "problems"):
            found.extend(module.problems(settings))
    return found
