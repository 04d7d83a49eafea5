"""PostgreSQL: DATABASE_URL into the parts, the TLS settings as libpq parameters (for URLs, and
PGSSLMODE & co. for pg_dump and psql), and the combinations that cannot work."""

from __future__ import annotations

import functools
import stat
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
    from macroinfra.settings import Settings

URL_SETTING = "database_url"  # the setting whose value gives the fields of url_fields
SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSLMODE = "prefer"
# libpq parameter -> field (the query parameters DATABASE_URL may set as parts).
SSL_FIELDS = {
    "sslmode": "postgres_sslmode",
    "sslrootcert": "postgres_sslrootcert",
    "sslcert": "postgres_sslcert",
    "sslkey": "postgres_sslkey",
}
SYSTEM_STORE = "system"  # sslrootcert=system: libpq verifies against the system's CA store


def _parse(url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(field values, other libpq parameters) of a DATABASE_URL; ValueError when invalid."""
    parts = split_url(url, SCHEMES)
    fields: dict[str, Any] = {}
    if parts.host:
        fields["postgres_host"] = parts.host
    if parts.port:
        fields["postgres_port"] = parts.port
    if parts.username:
        fields["postgres_user"] = parts.username
    if parts.password is not None:
        fields["postgres_password"] = SecretStr(parts.password)
    if parts.path:
        if "/" in parts.path:
            raise ValueError("must name one database after the host (postgresql://host/db)")
        fields["postgres_db"] = parts.path
    extras = {}
    for name, value in parts.query.items():
        if name == "sslmode":
            if value not in SSL_MODES:
                raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
            fields["postgres_sslmode"] = value
        elif name in SSL_FIELDS:
            fields[SSL_FIELDS[name]] = Path(value)
        elif name in ("password", "user", "host", "hostaddr", "port", "dbname", "passfile"):
            raise ValueError(f"sets {name} as a query parameter: put it in the URL itself")
        else:
            extras[name] = value
    if extras:
        from psycopg.conninfo import make_conninfo

        try:
            make_conninfo("", **extras)  # libpq refuses a parameter it does not know
        except Exception:
            raise ValueError(
                "has a query parameter that libpq does not know: " + ", ".join(sorted(extras))
            ) from None
    return fields, extras


def build_url(settings: Settings, scheme: str, password: str) -> str:
    """The URL of the configured database: `scheme` (postgresql, postgresql+psycopg, ...), the
    password as given (REDACTED for display), the TLS parameters as query parameters."""
    from macroinfra.redaction import REDACTED

    s = settings
    user = quote(s.postgres_user, safe="")
    pw = password if password == REDACTED else quote(password, safe="")
    params = libpq_params(s)
    if password == REDACTED:  # a parameter such as sslpassword is a secret too
        params = {k: REDACTED if "password" in k else v for k, v in params.items()}
    query = urlencode(params, safe="*/")
    return (
        f"{scheme}://{user}:{pw}@{url_host(s.postgres_host)}:{s.postgres_port}/"
        f"{quote(s.postgres_db, safe='')}" + (f"?{query}" if query else "")
    )


def url_fields(settings: Settings) -> dict[str, Any]:
    return _parsed(settings)[0]


def url_extras(settings: Settings) -> dict[str, str]:
    """The libpq parameters of DATABASE_URL that no setting holds (connect_timeout, ...)."""
    return _parsed(settings)[1]


def _parsed(settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    """(field values, other libpq parameters) of DATABASE_URL; ({}, {}) when it is unset or
    invalid (problems() says why). Copies: the callers may change them."""
    if settings.database_url is None:
        return {}, {}
    parsed = _parse_once(settings.database_url.get_secret_value())
    if parsed is None:
        return {}, {}
    return dict(parsed[0]), dict(parsed[1])


@functools.lru_cache(maxsize=8)
def _parse_once(url: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """_parse, once per URL in a process (it may import psycopg to ask libpq); None when
    invalid."""
    try:
        return _parse(url)
    except ValueError:
        return None


def libpq_params(settings: Settings) -> dict[str, str]:
    """The TLS parameters (and DATABASE_URL's others) to add to every connection's URL."""
    params: dict[str, str] = {}
    if settings.postgres_sslmode != DEFAULT_SSLMODE:
        params["sslmode"] = settings.postgres_sslmode
    for name, field in SSL_FIELDS.items():
        value = getattr(settings, field)
        if name != "sslmode" and value is not None:
            params[name] = str(value)
    params.update(url_extras(settings))
    return params


def status_rows(settings: Settings) -> list[tuple[str, str, str, str, bool]]:
    """`status --env`'s row for the CA file the client verifies the server with, beside
    DATABASE_URL (which names it too), for the tools that take the URL apart (psql's -h):
    (service, variable, value, value shown, secret), PGSSLROOTCERT as libpq reads it."""
    root = settings.postgres_sslrootcert
    if root is None or settings.postgres_sslmode == "disable":
        return []
    return [("timescaledb", "PGSSLROOTCERT", str(root), str(root), False)]


def connect_kwargs(settings: Settings, **changes: Any) -> dict[str, Any]:
    """psycopg.connect()'s keyword arguments for the configured server (password included:
    never print them); `changes` replace any of them (dbname="postgres", ...)."""
    kwargs: dict[str, Any] = {
        "host": settings.postgres_host,
        "port": settings.postgres_port,
        "user": settings.postgres_user,
        "password": settings.postgres_password.get_secret_value(),
        "dbname": settings.postgres_db,
        **libpq_params(settings),
    }
    return kwargs | changes


def client_environment(settings: Settings) -> dict[str, str]:
    """PGSSLMODE & co. for pg_dump, pg_restore and psql (no secret: the password travels as
    PGPASSWORD, set by the caller)."""
    env = {"PGSSLMODE": settings.postgres_sslmode}
    for name, field in SSL_FIELDS.items():
        value = getattr(settings, field)
        if name != "sslmode" and value is not None:
            env[f"PG{name.upper()}"] = str(value)
    return env


def _key_too_open(key: Path) -> bool:
    """libpq's rule: a key of ours must be 0600 or less; one owned by root may be 0640."""
    import os

    info = key.stat()
    if info.st_uid == 0 and info.st_uid != os.geteuid():
        return bool(info.st_mode & (stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO))
    return bool(info.st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def problems(settings: Settings) -> list[str]:
    out: list[str] = []
    if settings.database_url is not None:
        try:
            fields, _ = _parse(settings.database_url.get_secret_value())
        except ValueError as exc:
            return [f"{variable(settings, 'database_url')}: {exc}"]
        out += disagreements(settings, "database_url", fields)
    mode = settings.postgres_sslmode
    root = settings.postgres_sslrootcert
    mode_var = variable(settings, "postgres_sslmode")
    root_var = variable(settings, "postgres_sslrootcert")
    if mode in ("verify-ca", "verify-full") and root is None:
        if not (Path.home() / ".postgresql" / "root.crt").is_file():
            out.append(
                f"{mode_var}={mode} needs the CA that signed the server's certificate: set "
                f"{root_var} to its file (or to '{SYSTEM_STORE}' for the system's CA store)"
            )
    if root is not None and str(root) != SYSTEM_STORE:
        out += filter(None, [file_problem(settings, "postgres_sslrootcert", root)])
    cert, key = settings.postgres_sslcert, settings.postgres_sslkey
    for name, path in (("postgres_sslcert", cert), ("postgres_sslkey", key)):
        out += filter(None, [file_problem(settings, name, path)])
    if (cert is None) != (key is None):
        out.append(
            f"{variable(settings, 'postgres_sslcert')} and {variable(settings, 'postgres_sslkey')}"
            " go together (a client certificate and its key): set both or neither"
        )
    if key is not None and key.is_file() and _key_too_open(key):
        out.append(
            f"{variable(settings, 'postgres_sslkey')}: {key} is open to other users and libpq "
            f"refuses it: chmod 600 {key}"
        )
    if mode == "disable" and (root is not None or cert is not None):
        out.append(
            f"{mode_var}=disable but TLS files are set ({root_var}, ...): choose a TLS mode "
            "(require, verify-ca, verify-full) or remove them"
        )
    return out
