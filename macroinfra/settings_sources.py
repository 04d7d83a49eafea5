"""The links of pydantic-settings' chain that record, for one build of the settings, which
source supplied each field and which .env file was read: what `config show` reports."""

from __future__ import annotations

import os
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
    if isinstance(source, SecretFiles):
        return "file"
    if isinstance(source, InitSettingsSource):
        return "command line"
    return "default"


@dataclass
class Origins:
    """What one build's sources supplied: each field's source, and the .env file read."""

    fields: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    env_file_names: list[str] = field(default_factory=list)  # every name the file sets
    problems: list[str] = field(default_factory=list)  # secret files that cannot be read


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
                    if isinstance(self.source, SecretFiles):
                        label = f"file ({self.source.files[name]})"
                    build.fields.setdefault(name, label)
            if isinstance(self.source, EnvFileSource):
                build.env_file = self.source.path
                build.env_file_names = list(self.source.file_values)
        return data


def near_misses(names: list[str], known: list[str]) -> list[str]:
    """A warning for each name that is not one of `known` but looks like one (`POSTGRESS_PORT`,
    `REDIS_PASWORD`): set there, it changes nothing, and the default applies instead."""
    import difflib

    upper = {k.upper() for k in known}
    warnings = []
    for name in sorted(set(names)):
        if name.upper() in upper or "_" not in name:
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.85)
        if close:
            warnings.append(f"{name} is not a macroinfra variable: did you mean {close[0]}?")
    return warnings


FILE_SUFFIX = "_FILE"


def secret_fields(settings_cls: type[BaseSettings]) -> list[str]:
    """The fields that hold a secret (a SecretStr, optional or not)."""
    return [
        name
        for name, info in settings_cls.model_fields.items()
        if "SecretStr" in str(info.annotation)
    ]


class SecretFiles(PydanticBaseSettingsSource):
    """`<VARIABLE>_FILE` for every secret (POSTGRES_PASSWORD_FILE, ...): the secret is the file's
    content without its trailing newline, the convention of the official images and of Docker
    secrets. Read from the environment, else the .env file; last in the chain, so the variable
    itself wins, and both set is a problem. A file that cannot be read is a problem, never a
    traceback, and never a part of its content."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: EnvFileSource) -> None:
        super().__init__(settings_cls)
        self.env_file = env_file
        self.files: dict[str, Path] = {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def _lookup(self, name: str) -> str | None:
        for values in (os.environ, self.env_file.file_values):
            for key, value in values.items():
                if key.upper() == name and value:
                    return value
        return None

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        build = BUILD.get()
        problems = build.problems if build is not None else []
        for name in secret_fields(self.settings_cls):
            var = variable(self.settings_cls, name)
            path = self._lookup(var + FILE_SUFFIX)
            if path is None:
                continue
            if self._lookup(var) is not None:
                problems.append(f"{var} and {var}{FILE_SUFFIX} are both set: keep one")
                continue
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
                problems.append(f"{var}{FILE_SUFFIX}: cannot read {path}: {reason}")
                continue
            value = text.rstrip("\r\n")
            if not value:
                problems.append(f"{var}{FILE_SUFFIX}: {path} is empty")
                continue
            self.files[name] = Path(path)
            data[name] = value
        return data
