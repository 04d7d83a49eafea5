"""Small network helpers shared by the probes."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Unreachable:
    reason: str  # "refused", "timeout", "unreachable"
    detail: str


def tcp_open(host: str, port: int, timeout: float) -> Unreachable | None:
    """Open (and close) a TCP connection: None when it opens, else why not.

    Clients such as pymongo and kafka-python retry a refused connection until their whole
    timeout has passed; this tells "nothing listens there" apart at once.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return Unreachable("refused", f"connection refused at {host}:{port}")
    except TimeoutError:
        return Unreachable("timeout", f"no TCP connection to {host}:{port} within {timeout:.1f} s")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Unreachable("unreachable", f"cannot reach {host}:{port}: {reason}")
