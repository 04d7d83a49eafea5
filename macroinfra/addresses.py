"""Host names and `host:port` values: the one parser for every address a setting holds."""

from __future__ import annotations

import re

_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
MAX_HOST_LENGTH = 253  # DNS: a name longer than this cannot be resolved


def check_host(value: str) -> str:
    """`value` when it is a host name or an IP address; ValueError naming the rule otherwise.

    A name is dot-separated labels of 1 to 63 letters, digits, `-` or `_` (253 characters at
    most, one trailing dot allowed), so no resolver is ever handed what it cannot encode."""
    import ipaddress

    rule = "must be a host name or an IP address (no scheme, port or path)"
    if ":" in value:
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError(rule) from None
        return value
    name = value.removesuffix(".")
    if not name or len(name) > MAX_HOST_LENGTH:
        raise ValueError(f"{rule}, of 1 to {MAX_HOST_LENGTH} characters")
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError(f"{rule}: each dot-separated part 1 to 63 letters, digits, - or _")
    return value


def split_host_port(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError naming the rule otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port with a port from 1 to 65535")
    check_host(host)
    return host, int(port)
