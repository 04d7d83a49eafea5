"""Port pre-flight: is each address we are about to listen on free?

What a runtime claims comes from the runtime (`Runtime.port_claims`), built from the service
table's `address_setting`, so an error names the setting that moves the port.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from macroinfra.errors import OperationError
from macroinfra.services import service

LOOPBACK = "127.0.0.1"

if TYPE_CHECKING:
    from macroinfra.settings import Settings


@dataclass(frozen=True)
class PortClaim:
    """An address a runtime is about to listen on, and the setting that moves it."""

    service: str
    setting: str  # the variable that moves it, e.g. POSTGRES_PORT
    port: int
    host: str = LOOPBACK


def loopback_claim(settings: Settings, name: str) -> PortClaim:
    """A service listening on 127.0.0.1 at the port its settings give it."""
    row = service(name)
    _host, port = row.address(settings)
    return PortClaim(row.name.value, row.address_setting, port)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR themselves, so a socket in TIME_WAIT does not block them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_ports_free(claims: list[PortClaim]) -> None:
    """Raise one error naming every taken port and the setting that moves it."""
    taken = [c for c in claims if not port_is_free(c.host, c.port)]
    if taken:
        what = "; ".join(f"{c.service} port {c.port} is already in use" for c in taken)
        moves = ", ".join(f"{c.setting}" for c in taken)
        raise OperationError(
            what,
            hint=f"stop whatever listens there, or set {moves} to a free port (in .env)",
        )
