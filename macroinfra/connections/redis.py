"""Redis: REDIS_URL (redis:// or rediss://) into the parts, redis-py's connection arguments
(TLS, ACL user), and the combinations that cannot work."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from macroinfra.connections.urls import (
    disagreements,
    file_problem,
    split_url,
    url_host,
    variable,
)

if TYPE_CHECKING:
    import redis

    from macroinfra.settings import Settings

URL_SETTING = "redis_url"  # the setting whose value gives the fields of url_fields
SCHEMES = ("redis", "rediss")
CA_PARAMETER = "ssl_ca_certs"  # redis-py's name, which its from_url() passes on


def _parse(url: str) -> dict[str, Any]:
    parts = split_url(url, SCHEMES)
    if set(parts.query) - {CA_PARAMETER}:
        raise ValueError(
            f"only the query parameter {CA_PARAMETER} is read: set the other REDIS_ variables"
        )
    fields: dict[str, Any] = {"redis_tls": parts.scheme == "rediss"}
    if CA_PARAMETER in parts.query:
        fields["redis_tls_ca"] = Path(parts.query[CA_PARAMETER])
    if parts.host:
        fields["redis_host"] = parts.host
    if parts.port:
        fields["redis_port"] = parts.port
    if parts.username:
        fields["redis_username"] = parts.username
    if parts.password:
        fields["redis_password"] = SecretStr(parts.password)
    if parts.path:
        if not parts.path.isdigit() or not 0 <= int(parts.path) <= 15:
            raise ValueError("the path must be a database number from 0 to 15 (redis://host/0)")
        fields["redis_db"] = int(parts.path)
    return fields


def build_url(settings: Settings, password: str | None) -> str:
    """redis:// or rediss:// with the ACL user (Redis 6+ names the password-only user
    `default`; redis-cli reads an empty name as a user called '' and fails, so the URL names
    it), and the CA as redis-py's `ssl_ca_certs` query parameter."""
    from macroinfra.redaction import REDACTED

    s = settings
    auth = ""
    if password:
        pw = password if password == REDACTED else quote(password, safe="")
        auth = f"{quote(s.redis_username or 'default', safe='')}:{pw}@"
    scheme = "rediss" if s.redis_tls else "redis"
    url = f"{scheme}://{auth}{url_host(s.redis_host)}:{s.redis_port}/{s.redis_db}"
    if s.redis_tls and s.redis_tls_ca is not None:
        url += "?" + urlencode({CA_PARAMETER: str(s.redis_tls_ca)}, safe="/")
    return url


def url_fields(settings: Settings) -> dict[str, Any]:
    if settings.redis_url is None:
        return {}
    try:
        return _parse(settings.redis_url.get_secret_value())
    except ValueError:
        return {}


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """redis.Redis()'s arguments for the configured server (password included: never print
    them). With TLS, the server's certificate is verified against REDIS_TLS_CA (else the
    system's store) and its name checked against REDIS_HOST."""
    kwargs: dict[str, Any] = {
        "host": settings.redis_host,
        "port": settings.redis_port,
        "db": settings.redis_db,
        "username": settings.redis_username,
        "password": settings.redis_password.get_secret_value() if settings.redis_password else None,
    }
    if settings.redis_tls:
        kwargs |= {
            "ssl": True,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": str(settings.redis_tls_ca) if settings.redis_tls_ca else None,
        }
    return kwargs


def pool_kwargs(settings: Settings) -> dict[str, Any]:
    """redis.ConnectionPool()'s arguments: the same, with TLS by `VerifiedTLSConnection`."""
    kwargs = client_kwargs(settings)
    if kwargs.pop("ssl", False):
        kwargs["connection_class"] = verified_tls_connection()
    return kwargs


def status_rows(settings: Settings) -> list[tuple[str, str, str, str, bool]]:
    """`status --env`'s row for the CA file the client verifies the server with, beside
    REDIS_URL (which names it too), for the tools that take the URL apart (redis-cli):
    (service, variable, value, value shown, secret), REDIS_TLS_CA as macroinfra reads it."""
    if not settings.redis_tls or settings.redis_tls_ca is None:
        return []
    ca = str(settings.redis_tls_ca)
    return [("redis", "REDIS_TLS_CA", ca, ca, False)]


def make_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client of its own pool (closed with it) for the configured server; `options` are
    redis-py's (timeouts, retry, client_name, ...)."""
    import redis

    pool = redis.ConnectionPool(**pool_kwargs(settings), **options)
    return redis.Redis.from_pool(pool)


@functools.cache
def verified_tls_connection() -> type:
    """redis-py's TLS connection, trusting exactly REDIS_TLS_CA (the system's store only when
    it is not set), with one TLS context per CA file in a process: redis-py's own loads the
    system's store into a new context for every connection, tens of milliseconds each."""
    import redis

    from macroinfra.connections.tls import context

    class VerifiedTLSConnection(redis.SSLConnection):
        def _wrap_socket_with_ssl(self, sock: Any) -> Any:
            return context(self.ca_certs or None).wrap_socket(sock, server_hostname=self.host)

    return VerifiedTLSConnection


def problems(settings: Settings) -> list[str]:
    out: list[str] = []
    if settings.redis_url is not None:
        try:
            fields = _parse(settings.redis_url.get_secret_value())
        except ValueError as exc:
            return [f"{variable(settings, 'redis_url')}: {exc}"]
        out += disagreements(settings, "redis_url", fields)
    tls_var, ca_var = variable(settings, "redis_tls"), variable(settings, "redis_tls_ca")
    if settings.redis_tls_ca is not None and not settings.redis_tls:
        out.append(f"{ca_var} is set but {tls_var} is off: turn {tls_var} on or remove {ca_var}")
    out += filter(None, [file_problem(settings, "redis_tls_ca", settings.redis_tls_ca)])
    if settings.redis_username and settings.redis_password is None:
        out.append(
            f"{variable(settings, 'redis_username')} is set without "
            f"{variable(settings, 'redis_password')}: an ACL user signs in with a password"
        )
    return out
