"""The names the whole tool shares, declared once: services, profiles, runtimes, and the
service table (which setting holds each service's address, its default port, its profile).

Runtimes say which of these services they provide (`Runtime.provided`); the CLI offers these
enums as choices, so `--help` lists them and a wrong one exits 2 before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from macroinfra.addresses import split_host_port

if TYPE_CHECKING:
    from macroinfra.settings import Settings


class ServiceName(StrEnum):
    """Every service of the stack, in start order."""

    TIMESCALEDB = "timescaledb"
    REDIS = "redis"
    MONGODB = "mongodb"
    KAFKA = "kafka"
    MINIO = "minio"


class Profile(StrEnum):
    """Compose profiles: each adds services to the default set."""

    FULL = "full"


class RuntimeName(StrEnum):
    """Where services run: `auto` picks compose when a Docker engine answers, else local."""

    AUTO = "auto"
    COMPOSE = "compose"
    LOCAL = "local"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Service:
    name: ServiceName
    address_setting: str  # the variable that moves it, e.g. POSTGRES_PORT
    default_port: int
    profile: Profile | None  # None: started by default
    _address: Callable[[Settings], tuple[str, int]]

    def address(self, settings: Settings) -> tuple[str, int]:
        """The (host, port) clients reach it at, from the settings."""
        return self._address(settings)


def _endpoint(value: str) -> tuple[str, int]:
    """The first `host:port` of a validated setting (Kafka's may list several)."""
    return split_host_port(value.split(",")[0])


SERVICE_TABLE: tuple[Service, ...] = (
    Service(
        ServiceName.TIMESCALEDB,
        "POSTGRES_PORT",
        5432,
        None,
        lambda s: (s.postgres_host, s.postgres_port),
    ),
    Service(ServiceName.REDIS, "REDIS_PORT", 6379, None, lambda s: (s.redis_host, s.redis_port)),
    Service(ServiceName.MONGODB, "MONGO_PORT", 27017, None, lambda s: (s.mongo_host, s.mongo_port)),
    Service(
        ServiceName.KAFKA,
        "KAFKA_BOOTSTRAP_SERVERS",
        9092,
        Profile.FULL,
        lambda s: _endpoint(s.kafka_bootstrap_servers),
    ),
    Service(
        ServiceName.MINIO,
        "MINIO_ENDPOINT",
        9000,
        None,
        lambda s: _endpoint(s.minio_endpoint),
    ),
)
SERVICES: tuple[str, ...] = tuple(s.name.value for s in SERVICE_TABLE)
PROFILES: dict[str, tuple[str, ...]] = {
    p.value: tuple(s.name.value for s in SERVICE_TABLE if s.profile is p) for p in Profile
}


def service(name: str) -> Service:
    """The table row of one service (ValueError for an unknown name)."""
    return next(s for s in SERVICE_TABLE if s.name == ServiceName(name))
