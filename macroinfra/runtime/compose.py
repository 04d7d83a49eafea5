"""The compose runtime: the five-service stack under Docker Compose, via python-on-whales."""

from __future__ import annotations

import os
import socket

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
            hostport = host.removeprefix("tcp://").rstrip("/")
            name, _, port = hostport.rpartition(":")
            sock = socket.create_connection((name, int(port)), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]
    except (OSError, ValueError):
        return False
