"""One Settings object for every command: flags, then the environment, then a .env file, then
defaults, in pydantic-settings' own chain of sources (the .env source is ours: strict, literal).

Variable names are the ones the compose file and `.env.example` use. Secrets are SecretStr and
every URL has a redacted form; nothing here echoes a secret value, not even in errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from macroinfra.addresses import check_host, split_host_port
from macroinfra.envfile import ENV_FILE_VARIABLE, EnvFileSource
from macroinfra.errors import ConfigError
from macroinfra.redaction import REDACTED
from macroinfra.services import RuntimeName
from macroinfra.settings_sources import (
    BUILD,
    FILE_SUFFIX,
    Origins,
    Recorded,
    SecretFiles,
    near_misses,
    secret_fields,
    variable,
)

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# An image reference: [registry[:port]/]name[:tag][@digest], no spaces.
IMAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"


def _default_state_dir() -> Path:
    # PostgreSQL runs as the `postgres` user when we are root, and it must be able to reach
    # its data folder: root's home is closed to it, /var/lib is not.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/macroinfra")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "macroinfra"


def _alias(name: str) -> str:
    """A macroinfra-only setting: MACROINFRA_<NAME> in the environment and the .env file, and
    only that name (load_settings() passes its flags, which use field names, under it)."""
    return f"MACROINFRA_{name.upper()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, env_ignore_empty=True)
    _env_file: Path | None = PrivateAttr(default=None)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Variables that look like ours but are not (did-you-mean), found while loading."""
        return self._warnings

    @property
    def env_file(self) -> Path | None:
        """The .env file these settings were read from (None: none was found), which Compose
        is handed too, so that one file drives both."""
        return self._env_file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (passed in), then the environment, then our .env source; pydantic-settings
        adds the defaults last. Its own dotenv source is left out: it expands `${}` and only
        warns about a line it cannot parse."""
        flags = init_settings.init_kwargs if isinstance(init_settings, InitSettingsSource) else {}
        env_file = EnvFileSource(settings_cls, flags.get(ENV_FILE_VARIABLE))
        files = SecretFiles(settings_cls, env_file)
        return tuple(Recorded(s) for s in (init_settings, env_settings, env_file, files))

    # TimescaleDB / PostgreSQL
    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "macro_user"
    postgres_password: SecretStr = SecretStr("macro_pass")
    postgres_db: str = "macro_trading"
    postgres_sslmode: SslMode = "prefer"
    postgres_sslrootcert: Path | None = None
    postgres_sslcert: Path | None = None
    postgres_sslkey: Path | None = None
    database_url: SecretStr | None = None  # a postgresql:// URL in place of the parts
    db_pool_size: int = Field(default=5, ge=1, validation_alias=_alias("db_pool_size"))
    db_async_pool_size: int = Field(default=20, ge=1, validation_alias=_alias("db_async_pool_size"))
    db_async_max_overflow: int = Field(
        default=10, ge=0, validation_alias=_alias("db_async_max_overflow")
    )

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(default=6379, ge=1, le=65535)
    redis_password: SecretStr | None = None
    redis_username: str | None = None  # an ACL user (default: the `default` user)
    redis_tls: bool = False
    redis_tls_ca: Path | None = None
    redis_url: SecretStr | None = None  # a redis:// or rediss:// URL in place of the parts
    redis_db: int = Field(default=0, ge=0, le=15)
    redis_max_connections: int = Field(
        default=50, ge=1, validation_alias=_alias("redis_max_connections")
    )

    # MongoDB
    mongo_host: str = "127.0.0.1"
    mongo_port: int = Field(default=27017, ge=1, le=65535)
    mongo_user: str = "macro_user"
    mongo_password: SecretStr = SecretStr("macro_pass")
    mongo_tls: bool = False
    mongo_tls_ca: Path | None = None
    mongo_auth_source: str = "admin"
    mongo_url: SecretStr | None = None  # a mongodb:// or mongodb+srv:// URL in place of the parts

    # MinIO
    minio_endpoint: str = "127.0.0.1:9000"
    minio_root_user: str = "minioadmin"
    minio_root_password: SecretStr = SecretStr("minioadmin")
    minio_bucket: str = "macro-data"
    minio_secure: bool = False
    minio_ca: Path | None = None
    minio_region: str | None = None

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: KafkaProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca: Path | None = None

    # Container images of the compose runtime: the pinned upstream images by default (the
    # compose file holds the same defaults); point them at a private registry, a mirror, or
    # images built locally.
    timescaledb_image: str = Field(
        default="timescale/timescaledb:2.18.0-pg16", pattern=IMAGE_PATTERN
    )
    redis_image: str = Field(default="redis:7.4.2-alpine", pattern=IMAGE_PATTERN)
    mongodb_image: str = Field(default="mongo:8.0.4", pattern=IMAGE_PATTERN)
    minio_image: str = Field(
        default="minio/minio:RELEASE.2025-02-18T16-25-55Z", pattern=IMAGE_PATTERN
    )
    kafka_image: str = Field(default="confluentinc/cp-kafka:7.8.0", pattern=IMAGE_PATTERN)

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
    # A team's own migrations (their own branch on top of the shipped head) and the dotted
    # module whose SQLAlchemy models extend macroinfra's metadata.
    migrations_dir: Path | None = Field(default=None, validation_alias=_alias("migrations_dir"))
    models: str | None = Field(default=None, validation_alias=_alias("models"))
    # The local runtime serves TLS itself: a CA and server certificates in the state folder.
    local_tls: bool = Field(default=False, validation_alias=_alias("local_tls"))

    @field_validator("postgres_host", "redis_host", "mongo_host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        return check_host(value)

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

    @model_validator(mode="after")
    def _from_urls(self) -> Settings:
        """DATABASE_URL, REDIS_URL, ... fill the parts not set explicitly, written to __dict__
        so that model_fields_set keeps only what the user set (see `connections.problems`)."""
        from macroinfra import connections

        for name, value in connections.url_fields(self).items():
            if name not in self.model_fields_set:
                self.__dict__[name] = value
        return self

    # -- computed URLs (secrets included: never print these, print `redacted_urls()`) --------

    @property
    def sync_database_url(self) -> str:
        return self._pg_url("postgresql+psycopg", self.postgres_password.get_secret_value())

    @property
    def async_database_url(self) -> str:
        return self._pg_url("postgresql+psycopg_async", self.postgres_password.get_secret_value())

    @property
    def redis_connection_url(self) -> str:
        return self._redis_url(_secret(self.redis_password))

    @property
    def mongo_connection_url(self) -> str:
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
            "redis_connection_url": self._redis_url(REDACTED if self.redis_password else None),
            "mongo_connection_url": self._mongo_url(REDACTED),
            "minio_url": self.minio_url,
        }

    def _pg_url(self, scheme: str, password: str) -> str:
        from macroinfra.connections.postgres import build_url

        return build_url(self, scheme, password)

    def _redis_url(self, password: str | None) -> str:
        from macroinfra.connections.redis import build_url

        return build_url(self, password)

    def _mongo_url(self, password: str) -> str:
        from macroinfra.connections.mongo import build_url

        return build_url(self, password)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    return variable(Settings, field)


# -- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingValue:
    name: str  # the environment variable
    value: Any  # display value: secrets are REDACTED
    source: str  # "default", "environment", ".env (<path>)" or "command line"
    secret: bool


@dataclass(frozen=True)
class SettingsReport:
    """What `config show` reports: the .env file that was read (None: none found), and every
    setting with its display value and source."""

    env_file: str | None
    settings: list[SettingValue]
    warnings: list[str] = field(default_factory=list)  # did-you-mean for near-misses


def _build(env_file: Path | None, overrides: dict[str, Any]) -> tuple[Settings, Origins]:
    """Settings from the chain, and what each source of that same build supplied.

    Raises ConfigError (exit 2) with one line per invalid variable, never echoing a value.
    """
    flags = {env_name(name): value for name, value in overrides.items() if value is not None}
    if env_file is not None:
        flags[ENV_FILE_VARIABLE] = env_file
    origins = Origins()
    token = BUILD.set(origins)
    try:
        settings = Settings(**flags)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors(include_input=False, include_url=False)]
        problems = origins.problems + problems
        raise ConfigError(
            "invalid configuration",
            hint="fix the variables above in the environment or the .env file",
            problems=problems,
        ) from None
    finally:
        BUILD.reset(token)
    from macroinfra import connections

    problems = origins.problems + connections.problems(settings)
    if problems:
        raise ConfigError(
            "configuration that cannot work",
            hint="fix the variables above in the environment or the .env file",
            problems=problems,
        )
    settings._env_file = origins.env_file
    settings._warnings = misspelt_variables([*os.environ, *origins.env_file_names])
    return settings, origins


def known_variables() -> list[str]:
    """Every variable macroinfra reads."""
    files = [env_name(name) + FILE_SUFFIX for name in secret_fields(Settings)]
    return [*(env_name(name) for name in Settings.model_fields), *files, ENV_FILE_VARIABLE]


def misspelt_variables(names: list[str]) -> list[str]:
    """A warning for each name that is not one of ours but looks like one (`POSTGRESS_PORT`)."""
    return near_misses(names, known_variables())


def _describe(error: Any) -> str:
    # The location is the field name or its MACROINFRA_ alias: upper-cased, its variable.
    name = str(error["loc"][0]).upper() if error["loc"] else "?"
    return f"{name}: {error['msg']}"


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from flags (`overrides`, by field name; None means not given), the environment,
    the .env file and the defaults, in that order."""
    return _build(env_file, overrides)[0]


def describe_settings(env_file: Path | None = None, **overrides: Any) -> SettingsReport:
    """Every setting with its display value and where it came from, and the .env file read."""
    settings, origins = _build(env_file, overrides)
    from macroinfra.connections import url_sources

    given = url_sources(settings)  # the fields DATABASE_URL, ... gave: their variable
    secrets = set(secret_fields(Settings))
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        secret = name in secrets
        if secret:
            display: Any = REDACTED if value is not None else None
        elif isinstance(value, Path):
            display = str(value)
        else:
            display = value
        rows.append(
            SettingValue(
                env_name(name),
                display,
                origins.fields.get(name, given.get(name, "default")),
                secret,
            )
        )
    for name, url in settings.redacted_urls().items():
        rows.append(SettingValue(name, url, "computed", False))
    return SettingsReport(
        str(origins.env_file) if origins.env_file else None, rows, settings.warnings
    )
