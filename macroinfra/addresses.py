"""Host names and `host:port` values: the one parser for every address a setting holds."""

from __future__ import annotations

import re

_HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def check_host(value: str) -> str:
    """`value` when it is a host name or an IP address; ValueError naming the rule otherwise."""
    if not _HOST.fullmatch(value):
        raise ValueError("must be a host name or an IP address (no scheme, port or path)")
    return value


def split_host_port(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError naming the rule otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port with a port from 1 to 65535")
    check_host(host)
    return host, int(port)
