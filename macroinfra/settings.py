"""One Settings object for every command: environment, then a .env file, then defaults.

Variable names are the ones the compose file and `.env.example` use. Secrets are SecretStr and
every URL has a redacted form; nothing here echoes a secret value, not even in errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from macroinfra.errors import ConfigError
from macroinfra.redaction import REDACTED
from macroinfra.services import RuntimeName

ENV_FILE_VARIABLE = "MACROINFRA_ENV_FILE"


def _default_state_dir() -> Path:
    # PostgreSQL runs as the `postgres` user when we are root, and it must be able to reach
    # its data folder: root's home is closed to it, /var/lib is not.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/macroinfra")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "macroinfra"


def _alias(name: str) -> str:
    """A macroinfra-only setting: MACROINFRA_<NAME> in the environment, and only that name
    (load_settings() maps its keyword arguments, which use field names, onto it)."""
    return f"MACROINFRA_{name.upper()}"


_HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _check_host(value: str) -> str:
    if not _HOST.fullmatch(value):
        raise ValueError("must be a host name or an IP address (no scheme, port or path)")
    return value


def split_host_port(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError naming the rule otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port with a port from 1 to 65535")
    _check_host(host)
    return host, int(port)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # TimescaleDB / PostgreSQL
    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "macro_user"
    postgres_password: SecretStr = SecretStr("macro_pass")
    postgres_db: str = "macro_trading"
    db_pool_size: int = Field(default=5, ge=1, validation_alias=_alias("db_pool_size"))
    db_async_pool_size: int = Field(default=20, ge=1, validation_alias=_alias("db_async_pool_size"))
    db_async_max_overflow: int = Field(
        default=10, ge=0, validation_alias=_alias("db_async_max_overflow")
    )

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(default=6379, ge=1, le=65535)
    redis_password: SecretStr | None = None
    redis_db: int = Field(default=0, ge=0, le=15)
    redis_max_connections: int = Field(
        default=50, ge=1, validation_alias=_alias("redis_max_connections")
    )

    # MongoDB
    mongo_host: str = "127.0.0.1"
    mongo_port: int = Field(default=27017, ge=1, le=65535)
    mongo_user: str = "macro_user"
    mongo_password: SecretStr = SecretStr("macro_pass")

    # MinIO
    minio_endpoint: str = "127.0.0.1:9000"
    minio_root_user: str = "minioadmin"
    minio_root_password: SecretStr = SecretStr("minioadmin")
    minio_bucket: str = "macro-data"
    minio_secure: bool = False

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"

    # Data sources
    fred_api_key: SecretStr | None = None

    # macroinfra itself
    runtime: RuntimeName = Field(default=RuntimeName.AUTO, validation_alias=_alias("runtime"))
    state_dir: Path = Field(
        default_factory=_default_state_dir, validation_alias=_alias("state_dir")
    )
    pg_bindir: Path | None = Field(default=None, validation_alias=_alias("pg_bindir"))
    probe_timeout: float = Field(
        default=5.0, gt=0, le=600, validation_alias=_alias("probe_timeout")
    )

    @field_validator("postgres_host", "redis_host", "mongo_host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        return _check_host(value)

    @field_validator("minio_endpoint")
    @classmethod
    def _valid_endpoint(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _valid_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            split_host_port(server)
        return value

    # -- computed URLs: plain properties, so no repr() or model_dump() carries a secret ----
    # (secrets included: never print these, print `redacted_urls()`)

    @property
    def sync_database_url(self) -> str:
        return self._pg_url("postgresql+psycopg", self.postgres_password.get_secret_value())

    @property
    def async_database_url(self) -> str:
        return self._pg_url("postgresql+psycopg_async", self.postgres_password.get_secret_value())

    @property
    def redis_url(self) -> str:
        return self._redis_url(_secret(self.redis_password))

    @property
    def mongo_url(self) -> str:
        return self._mongo_url(self.mongo_password.get_secret_value())

    @property
    def minio_url(self) -> str:
        scheme = "https" if self.minio_secure else "http"
        return f"{scheme}://{self.minio_endpoint}"

    @property
    def libpq_url(self) -> str:
        """The plain `postgresql://` URL that psycopg and psql take."""
        return self._pg_url("postgresql", self.postgres_password.get_secret_value())

    def redacted_urls(self) -> dict[str, str]:
        return {
            "sync_database_url": self._pg_url("postgresql+psycopg", REDACTED),
            "async_database_url": self._pg_url("postgresql+psycopg_async", REDACTED),
            "redis_url": self._redis_url(REDACTED if self.redis_password else None),
            "mongo_url": self._mongo_url(REDACTED),
            "minio_url": self.minio_url,
        }

    def _pg_url(self, scheme: str, password: str) -> str:
        user = quote(self.postgres_user, safe="")
        pw = password if password == REDACTED else quote(password, safe="")
        return (
            f"{scheme}://{user}:{pw}@{_host(self.postgres_host)}:{self.postgres_port}/"
            f"{quote(self.postgres_db, safe='')}"
        )

    def _redis_url(self, password: str | None) -> str:
        auth = ""
        if password:
            auth = ":" + (password if password == REDACTED else quote(password, safe="")) + "@"
        return f"redis://{auth}{_host(self.redis_host)}:{self.redis_port}/{self.redis_db}"

    def _mongo_url(self, password: str) -> str:
        user = quote(self.mongo_user, safe="")
        pw = password if password == REDACTED else quote(password, safe="")
        return f"mongodb://{user}:{pw}@{_host(self.mongo_host)}:{self.mongo_port}/?authSource=admin"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field.upper()


def _init_name(field: str) -> str:
    """The keyword that sets a field in Settings(...): its alias where it has one."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field


# -- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingValue:
    name: str  # the environment variable
    value: Any  # display value: secrets are REDACTED
    source: str  # "default", "environment", ".env (<path>)" or "command line"
    secret: bool


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
        if binding.error:
            problems.append(f"{path}:{binding.original.line}: cannot parse this line")
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    if problems:
        raise ConfigError(
            f"env file {path} is malformed",
            hint="each line must be NAME=value (quotes allowed); see .env.example",
            problems=problems,
        )
    return values


@dataclass(frozen=True)
class _Layers:
    """What sets each field, above the defaults: flags, the environment, the .env file."""

    path: Path
    file_values: dict[str, str]  # lower-cased names, strictly parsed, taken literally
    overrides: dict[str, Any]

    def source(self, field: str) -> str:
        name = env_name(field).lower()
        if field in self.overrides:
            return "command line"
        if _set_in_environment(name):  # what pydantic-settings reads (empty means unset)
            return "environment"
        if self.file_values.get(name, "") != "":
            return f".env ({self.path})"
        return "default"


def _set_in_environment(name: str) -> bool:
    return any(key.lower() == name and value for key, value in os.environ.items())


def _layers(env_file: Path | None, overrides: dict[str, Any]) -> _Layers:
    path, required = resolve_env_file(env_file)
    file_values = {k.lower(): v for k, v in read_env_file(path, required=required).items()}
    return _Layers(path, file_values, {k: v for k, v in overrides.items() if v is not None})


def _build(layers: _Layers) -> Settings:
    """Settings from the layers. Precedence: flags, environment, .env, defaults.

    pydantic-settings reads the environment; a .env value is passed in only where nothing above
    sets its variable, taken literally (no `${}` expansion, as Compose for a quoted value).
    Raises ConfigError (exit 2) with one line per invalid variable, never echoing a value.
    """
    init: dict[str, Any] = {}
    for field in Settings.model_fields:
        source = layers.source(field)
        if source == "command line":
            init[_init_name(field)] = layers.overrides[field]
        elif source.startswith(".env"):
            init[_init_name(field)] = layers.file_values[env_name(field).lower()]
    try:
        return Settings(_env_file=None, **init)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors(include_input=False, include_url=False)]
        raise ConfigError(
            "invalid configuration",
            hint="fix the variables above in the environment or the .env file",
            problems=problems,
        ) from None


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment, the .env file and explicit overrides (CLI flags)."""
    return _build(_layers(env_file, overrides))


def _describe(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else "?"
    name = env_name(field) if field in Settings.model_fields else field.upper()
    return f"{name}: {error['msg']}"


def describe_settings(env_file: Path | None = None, **overrides: Any) -> list[SettingValue]:
    """Every setting with its display value and where it came from."""
    layers = _layers(env_file, overrides)
    settings = _build(layers)
    rows = []
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        source = layers.source(field)
        value = getattr(settings, field)
        secret = isinstance(value, SecretStr) or "SecretStr" in str(info.annotation)
        if secret:
            display: Any = REDACTED if value is not None else None
        elif isinstance(value, Path):
            display = str(value)
        else:
            display = value
        rows.append(SettingValue(name, display, source, secret))
    for name, url in settings.redacted_urls().items():
        rows.append(SettingValue(name.upper(), url, "computed", False))
    return rows
