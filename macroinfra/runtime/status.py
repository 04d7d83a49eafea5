"""`status`: each service's state from the runtime, and what a notebook needs to connect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from macroinfra.runtime.base import Runtime, StackResult

if TYPE_CHECKING:
    from macroinfra.settings import Settings


@dataclass(frozen=True)
class ConnectionVariable:
    name: str
    value: str
    secret: bool  # the real value holds a secret; `value` is redacted unless it was asked for
    service: str  # the service it reaches


@dataclass(frozen=True)
class StackStatus:
    stack: StackResult
    connection: list[ConnectionVariable]
    __json_properties__ = ("running",)

    @property
    def running(self) -> bool:
        """Is the stack up: any service of it running (services managed elsewhere count as
        up; `doctor` is what checks they answer)."""
        if self.stack.runtime == "external":
            return True
        return any(s.state == "running" for s in self.stack.services)


def connection_variables(
    settings: Settings, *, reveal_secrets: bool = False
) -> list[ConnectionVariable]:
    """The variables a notebook or script needs to reach every service, named as the usual
    clients read them: DATABASE_URL is the libpq URL (psql, psycopg, most PostgreSQL clients),
    SQLALCHEMY_DATABASE_URL names the psycopg driver for SQLAlchemy; then redis-py, pymongo,
    boto3/s3fs and Kafka clients. Secrets are `***` unless `reveal_secrets` is given."""
    from macroinfra.connections import kafka, postgres, redis, s3
    from macroinfra.redaction import REDACTED

    redacted = settings.redacted_urls()
    sqlalchemy_shown = redacted["sync_database_url"]
    libpq_shown = "postgresql://" + sqlalchemy_shown.partition("://")[2]
    rows: list[tuple[str, str, str, str, bool]] = [
        ("timescaledb", "DATABASE_URL", settings.libpq_url, libpq_shown, True),
        (
            "timescaledb",
            "SQLALCHEMY_DATABASE_URL",
            settings.sync_database_url,
            sqlalchemy_shown,
            True,
        ),
        *postgres.status_rows(settings),
        *redis.status_rows(settings),
        (
            "redis",
            "REDIS_URL",
            settings.redis_connection_url,
            redacted["redis_connection_url"],
            settings.redis_password is not None,
        ),
        (
            "mongodb",
            "MONGO_URL",
            settings.mongo_connection_url,
            redacted["mongo_connection_url"],
            True,
        ),
        ("minio", "AWS_ENDPOINT_URL_S3", settings.minio_url, settings.minio_url, False),
        ("minio", "AWS_ACCESS_KEY_ID", settings.minio_root_user, settings.minio_root_user, False),
        (
            "minio",
            "AWS_SECRET_ACCESS_KEY",
            settings.minio_root_password.get_secret_value(),
            REDACTED,
            True,
        ),
        ("minio", "S3_BUCKET", settings.minio_bucket, settings.minio_bucket, False),
        *s3.status_rows(settings),
        (
            "kafka",
            "KAFKA_BOOTSTRAP_SERVERS",
            settings.kafka_bootstrap_servers,
            settings.kafka_bootstrap_servers,
            False,
        ),
        *kafka.status_rows(settings),
    ]
    return [
        ConnectionVariable(name, real if reveal_secrets or not secret else shown, secret, service)
        for service, name, real, shown, secret in rows
    ]


def stack_status(runtime: Runtime, settings: Settings) -> StackStatus:
    """Each service's state, and the connection variables with secrets redacted."""
    return StackStatus(runtime.ps(), connection_variables(settings))
