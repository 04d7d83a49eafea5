"""The small interface every runtime satisfies, and how one is chosen."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from macroinfra.errors import UsageError

if TYPE_CHECKING:
    from macroinfra.settings import Settings

# Every service of the stack, in start order. Kafka runs only under the compose `full` profile.
SERVICES: tuple[str, ...] = ("timescaledb", "redis", "mongodb", "kafka", "minio")
# Compose profiles, and the services each adds to the default set.
PROFILES: dict[str, tuple[str, ...]] = {"full": ("kafka",)}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # "running", "stopped", "starting", "unhealthy", "not provided", ...
    health: str | None = None  # "healthy", "unhealthy", "starting", or None when unknown
    ports: list[str] = field(default_factory=list)
    detail: str | None = None


@dataclass(frozen=True)
class StackResult:
    runtime: str
    services: list[ServiceState]
    message: str | None = None  # e.g. "services are managed elsewhere"
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


class Runtime(Protocol):
    name: str

    def up(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float,
        progress: Progress | None = None,
        profiles: Sequence[str] = (),
        wait: bool = True,
    ) -> StackResult:
        """Start the services (default: all the runtime provides, plus those of `profiles`)
        and, with `wait`, return once every one accepts clients. Idempotent."""
        ...

    def down(self, *, volumes: bool = False) -> StackResult:
        """Stop every service (of every profile); delete their data only with `volumes`."""
        ...

    def ps(self) -> StackResult: ...

    def volumes(self) -> list[str]:
        """What `down --volumes` would delete, for the confirmation prompt."""
        ...

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        """Log lines of one service (or all), oldest first; with `follow`, never ends."""
        ...

    def restart(
        self, services: Sequence[str] = (), *, timeout: float, progress: Progress | None = None
    ) -> StackResult:
        """Restart the services (default: every one running) and wait until they are ready."""
        ...


def validate_services(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise UsageError(
            f"unknown service {', '.join(unknown)}",
            hint=f"valid services: {', '.join(SERVICES)}",
        )
    return list(names)


def validate_profiles(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise UsageError(
            f"unknown profile {', '.join(unknown)}",
            hint="valid profiles: "
            + ", ".join(f"{p} (adds {', '.join(s)})" for p, s in PROFILES.items()),
        )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Selection:
    runtime: Runtime
    reason: str  # why this runtime was picked (shown by `auto`)


def select_runtime(
    settings: Settings, name: str | None = None, *, env_file: Path | None = None
) -> Selection:
    """The runtime named by --runtime or the setting; `auto` picks compose when a Docker
    engine answers, else local. `env_file` is the .env the user named (--env-file), which the
    compose runtime hands to Compose so that one file drives both."""
    choice = name or settings.runtime
    if choice not in {"auto", "compose", "local", "external"}:
        raise UsageError(
            f"unknown runtime {choice!r}", hint="use one of: auto, compose, local, external"
        )
    if choice == "local":
        from macroinfra.runtime.local import LocalRuntime

        return Selection(LocalRuntime(settings), "chosen by the runtime setting")
    if choice == "external":
        from macroinfra.runtime.external import ExternalRuntime

        return Selection(ExternalRuntime(settings), "chosen by the runtime setting")
    if choice == "compose":
        from macroinfra.runtime.compose import ComposeRuntime

        return Selection(
            ComposeRuntime(settings, env_file=env_file), "chosen by the runtime setting"
        )
    from macroinfra.runtime.compose import docker_engine_reachable

    if docker_engine_reachable():
        from macroinfra.runtime.compose import ComposeRuntime

        return Selection(
            ComposeRuntime(settings, env_file=env_file), "auto: a Docker engine answers"
        )
    from macroinfra.runtime.local import LocalRuntime

    return Selection(
        LocalRuntime(settings), "auto: no Docker engine answers, using local processes"
    )


# -- what a notebook needs to connect ----------------------------------------------------------


@dataclass(frozen=True)
class ConnectionVariable:
    name: str
    value: str
    secret: bool  # the real value holds a secret; `value` is redacted unless it was asked for


@dataclass(frozen=True)
class StackStatus:
    stack: StackResult
    connection: list[ConnectionVariable]


def connection_variables(
    settings: Settings, *, reveal_secrets: bool = False
) -> list[ConnectionVariable]:
    """The variables a notebook or script needs to reach every service, named as the usual
    clients read them: DATABASE_URL is the libpq URL (psql, psycopg, most PostgreSQL clients),
    SQLALCHEMY_DATABASE_URL names the psycopg driver for SQLAlchemy; then redis-py, pymongo,
    boto3/s3fs and Kafka clients. Secrets are `***` unless `reveal_secrets` is given."""
    from macroinfra.redaction import REDACTED

    redacted = settings.redacted_urls()
    sqlalchemy_shown = redacted["sync_database_url"]
    libpq_shown = "postgresql://" + sqlalchemy_shown.partition("://")[2]
    rows: list[tuple[str, str, str, bool]] = [
        ("DATABASE_URL", settings.libpq_url, libpq_shown, True),
        ("SQLALCHEMY_DATABASE_URL", settings.sync_database_url, sqlalchemy_shown, True),
        (
            "REDIS_URL",
            settings.redis_url,
            redacted["redis_url"],
            settings.redis_password is not None,
        ),
        ("MONGO_URL", settings.mongo_url, redacted["mongo_url"], True),
        ("AWS_ENDPOINT_URL_S3", settings.minio_url, settings.minio_url, False),
        ("AWS_ACCESS_KEY_ID", settings.minio_root_user, settings.minio_root_user, False),
        ("AWS_SECRET_ACCESS_KEY", settings.minio_root_password.get_secret_value(), REDACTED, True),
        ("S3_BUCKET", settings.minio_bucket, settings.minio_bucket, False),
        (
            "KAFKA_BOOTSTRAP_SERVERS",
            settings.kafka_bootstrap_servers,
            settings.kafka_bootstrap_servers,
            False,
        ),
    ]
    return [
        ConnectionVariable(name, real if reveal_secrets or not secret else shown, secret)
        for name, real, shown, secret in rows
    ]


def stack_status(runtime: Runtime, settings: Settings) -> StackStatus:
    """Each service's state, and the connection variables with secrets redacted."""
    return StackStatus(runtime.ps(), connection_variables(settings))
