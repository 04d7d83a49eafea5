"""The links of pydantic-settings' chain that record, for one build of the settings, which
source supplied each field and which .env file was read: what `config show` reports."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
)

from macroinfra.envfile import EnvFileSource


def variable(settings_cls: type[BaseSettings], name: str) -> str:
    """The environment variable that sets a field: its alias, else its upper-cased name."""
    alias = settings_cls.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else name.upper()


def source_label(source: PydanticBaseSettingsSource) -> str:
    """How `config show` names a source of the chain."""
    if isinstance(source, EnvFileSource):
        return f".env ({source.path})"
    if isinstance(source, EnvSettingsSource):
        return "environment"
    if isinstance(source, InitSettingsSource):
        return "command line"
    return "default"


@dataclass
class Origins:
    """What one build's sources supplied: each field's source, and the .env file read."""

    fields: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    env_file_names: list[str] = field(default_factory=list)  # every name the file sets


BUILD: ContextVar[Origins | None] = ContextVar("macroinfra_settings_build", default=None)


class Recorded(PydanticBaseSettingsSource):
    """A link of the chain that notes, for the build under way, which fields it supplied.

    pydantic-settings calls the sources highest priority first, so the first source to supply
    a field is the one whose value the settings hold."""

    def __init__(self, source: PydanticBaseSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self.source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.source()
        build = BUILD.get()
        if build is not None:
            fields = self.settings_cls.model_fields
            names = {variable(self.settings_cls, f).lower(): f for f in fields}
            label = source_label(self.source)
            for key in data:
                if (name := names.get(key.lower(), key.lower())) in fields:
                    build.fields.setdefault(name, label)
            if isinstance(self.source, EnvFileSource):
                build.env_file = self.source.path
                build.env_file_names = list(self.source.file_values)
        return data
