"""The Docker engine: does one answer, and the python-on-whales client that talks to it."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from python_on_whales import DockerClient

DOCKER_SOCKET = "/var/run/docker.sock"


def docker_engine_reachable(timeout: float = 0.5) -> bool:
    """Does a Docker engine answer? Pings the engine's socket directly: no `docker` process."""
    host = os.environ.get("DOCKER_HOST", f"unix://{DOCKER_SOCKET}")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            from macroinfra.settings import split_host_port

            address = split_host_port(host.removeprefix("tcp://").rstrip("/"))
            sock = socket.create_connection(address, timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]
    except (OSError, ValueError):
        return False


def docker_client(**config: Any) -> DockerClient:
    """The real client: python-on-whales' DockerClient (imported only when Docker is used)."""
    from python_on_whales import DockerClient

    return DockerClient(**config)
