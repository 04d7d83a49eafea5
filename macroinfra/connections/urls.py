"""The parts of a service URL (scheme, user, password, host, port, path, query), parsed once
for every service module; errors name the rule and never echo the URL (it holds a password)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from macroinfra.addresses import check_host

if TYPE_CHECKING:
    from macroinfra.settings import Settings


@dataclass(frozen=True)
class UrlParts:
    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    path: str  # without the leading /, percent-decoded
    query: dict[str, str] = field(default_factory=dict)


def split_url(url: str, schemes: tuple[str, ...]) -> UrlParts:
    """The parts of `url`; ValueError (no part of the URL in its message) when it is not one."""
    shown = " or ".join(f"{s}://" for s in schemes)
    if any(ch.isspace() for ch in url):
        raise ValueError(f"must be a {shown} URL without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"must be a {shown} URL with a port from 1 to 65535") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"must start with {shown}")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    host = unquote(parts.hostname) if parts.hostname else None
    if host is not None:
        try:
            check_host(host)
        except ValueError as exc:
            raise ValueError(f"host {exc} (one host only)") from None
    if port == 0:
        raise ValueError(f"must be a {shown} URL with a port from 1 to 65535")
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in query:
            raise ValueError(f"sets the query parameter {name} twice")
        query[name] = value
    return UrlParts(
        scheme=parts.scheme.lower(),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=host,
        port=port,
        path=unquote(parts.path.removeprefix("/")),
        query=query,
    )


def variable(settings: Settings, name: str) -> str:
    """The environment variable of a field."""
    from macroinfra.settings_sources import variable as field_variable

    return field_variable(type(settings), name)


def disagreements(settings: Settings, url_setting: str, values: dict[str, Any]) -> list[str]:
    """A line for each field set both by the URL and explicitly, to different values (the
    values themselves are never shown: one of them may be a password)."""
    out = []
    for name, value in values.items():
        if name in settings.model_fields_set and getattr(settings, name) != value:
            out.append(
                f"{variable(settings, url_setting)} and {variable(settings, name)} disagree: "
                f"set one of them, not both"
            )
    return out


def file_problem(settings: Settings, name: str, path: Path | None) -> str | None:
    """A line when the file a setting names cannot be read."""
    if path is None:
        return None
    from macroinfra.connections.local import local_ca

    if settings.local_tls and path == local_ca(settings):
        return None  # the local runtime's CA: its first start with TLS makes it
    if not path.is_file() or not os.access(path, os.R_OK):
        return f"{variable(settings, name)}: no readable file at {path}"
    return None


def url_host(host: str) -> str:
    """A host as a URL holds it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
