"""The .env file: found (named by --env-file or MACROINFRA_ENV_FILE, else ./.env), parsed
strictly (a line that is not NAME=value is an error naming it), its values taken literally, and
offered to pydantic-settings as one link of the settings' chain."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, EnvSettingsSource

from macroinfra.errors import ConfigError

ENV_FILE_VARIABLE = "MACROINFRA_ENV_FILE"


def resolve_env_file(env_file: Path | None) -> tuple[Path, bool]:
    """The .env file to read, and whether the user named it (so it must exist)."""
    if env_file is not None:
        return env_file, True
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named:
        return Path(named), True
    return Path(".env"), False


def read_env_file(path: Path, *, required: bool) -> dict[str, str]:
    """Parse a .env file strictly: a line that cannot be parsed is an error, not a warning."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                f"env file {path} does not exist",
                hint=f"create it (see .env.example) or point --env-file/{ENV_FILE_VARIABLE} "
                "at another file",
            ) from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(
            f"cannot read env file {path}: {reason}",
            hint="fix its permissions or encoding, or point --env-file at another file",
        ) from None
    import io

    values: dict[str, str] = {}
    problems = []
    for binding in parse_stream(io.StringIO(text)):
        where = f"{path}:{binding.original.line}"
        if binding.error:
            problems.append(f"{where}: cannot parse this line")
        elif binding.key is not None and binding.value is None:  # no `=`: never a setting
            problems.append(f"{where}: no `=` in this line (a setting is NAME=value)")
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    if problems:
        raise ConfigError(
            f"env file {path} is malformed",
            hint="each line must be NAME=value (quotes allowed); see .env.example",
            problems=problems,
        )
    return values


class EnvFileSource(EnvSettingsSource):
    """The .env file as a link of the chain, read by the environment's rules (the same names,
    empty means unset) but parsed strictly and taken literally (no `${}` expansion, as Compose
    does for a quoted value). The file is the one named by --env-file (passed in with the
    flags) or MACROINFRA_ENV_FILE, which must exist, else ./.env if there is one."""

    def __init__(self, settings_cls: type[BaseSettings], named: Path | str | None) -> None:
        path, required = resolve_env_file(Path(named) if named else None)
        self.file_values = read_env_file(path, required=required)
        self.path = path.absolute() if required or path.is_file() else None  # None: not found
        super().__init__(settings_cls)  # reads the variables through _load_env_vars()

    def _load_env_vars(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.file_values.items() if value}
