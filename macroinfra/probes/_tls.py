"""The TLS step of the MongoDB, Kafka and S3 probes: before the client library connects, one
verified handshake of the probe's own (macroinfra.connections.tls), with the trust the client
will use (the CA bundle, else the system store; the host name always checked). It tells a server
that is not there, one that does not speak TLS, and a certificate the client would refuse
(expired, for another name, from an unknown CA) apart, each with its fix; once the client has
succeeded, `report` gives the check's `encrypted` flag and the `<service>: tls` line
(macroinfra.probes.tls).
"""

from __future__ import annotations

import errno
import ssl
from dataclasses import dataclass
from pathlib import Path

from macroinfra.connections.tls import PeerTls, context, inspect_peer
from macroinfra.probes._net import Unreachable
from macroinfra.probes.result import Check, failed


@dataclass(frozen=True)
class Names:
    """The settings a fix names, per service."""

    tls_off: str  # "MONGO_TLS=false"
    ca: str  # "MONGO_TLS_CA"
    host: str  # "MONGO_HOST"


@dataclass(frozen=True)
class Refused:
    """No usable TLS session: why (machine-readable), what happened, and the fix."""

    reason: str
    detail: str
    hint: str


def handshake(
    host: str, port: int, timeout: float, ca: Path | None, names: Names
) -> PeerTls | Refused | Unreachable:
    """The server's TLS at host:port within `timeout` seconds, or why there is none. A PeerTls
    with `refused(peer)` true is a certificate the client will not accept."""
    from macroinfra.connections._ca import ca_problem

    where = f"{host}:{port}"
    try:
        context(ca)  # made once per CA file in a process, and used by inspect_peer
    except (OSError, ssl.SSLError, ValueError):
        problem = ca_problem(names.ca, ca) if ca is not None else None
        return Refused("config", problem or f"{names.ca}: cannot load it", f"fix {names.ca}")
    not_tls = f"point {names.host} at the TLS port, or set {names.tls_off}"
    try:
        return inspect_peer(host, port, ca, timeout)
    except ConnectionRefusedError:
        return Unreachable("refused", f"connection refused at {where}")
    except TimeoutError as exc:
        if "handshake" in str(exc).lower():
            return Refused(
                "tls",
                f"no TLS handshake from {where} within {timeout:.1f} s: it may not speak TLS",
                not_tls,
            )
        return Unreachable("timeout", f"no TCP connection to {where} within {timeout:.1f} s")
    except ssl.SSLError as exc:
        return Refused(
            "tls",
            f"TLS handshake with {where} failed ({_ssl_reason(exc)}): it may not speak TLS there",
            not_tls,
        )
    except OSError as exc:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE) or isinstance(exc, ConnectionError):
            return Refused(
                "tls", f"{where} closed the connection during the TLS handshake", not_tls
            )
        return Unreachable("unreachable", f"cannot reach {where}: {exc.strerror or exc}")


def reach(
    host: str, port: int, timeout: float, ca: Path | None, names: Names, *, tls: bool
) -> PeerTls | Refused | Unreachable | None:
    """The server at host:port as the client will reach it: its TLS (`handshake`) when the
    client speaks TLS, else an open TCP connection (None)."""
    from macroinfra.probes._net import tcp_open

    return handshake(host, port, timeout, ca, names) if tls else tcp_open(host, port, timeout)


def stopped(
    found: PeerTls | Refused | Unreachable | None,
    service: str,
    where: str,
    names: Names,
    ca: Path | None,
    started: float,
) -> Check | None:
    """The failure that ends a probe before its client connects: no TLS to be had there, or a
    certificate the client would refuse. None to go on (an Unreachable server is the caller's:
    Kafka tries the next one)."""
    if isinstance(found, Refused):
        detail, hint = found.detail, found.hint
        return failed(service, service, detail, hint, reason=found.reason, started=started)
    if isinstance(found, PeerTls) and refused(found):
        from macroinfra.probes.tls import handshake_failure

        return handshake_failure(service, where, found, names.ca, ca)
    return None


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else type(exc).__name__


def refused(peer: PeerTls) -> bool:
    """The client verifies, so it would refuse this certificate: say so before it tries."""
    expired = peer.days_left is not None and peer.days_left < 0
    return peer.trusted is False or peer.name_matches is False or expired


def report(check: Check, peer: PeerTls | None, where: str, names: Names) -> list[Check]:
    """The service's check saying whether it was encrypted, and its `<service>: tls` line."""
    from macroinfra.probes.tls import tls_check, with_encryption

    encrypted = peer is not None and peer.encrypted
    main = with_encryption(check, encrypted, (peer.protocol or "TLS") if peer else None)
    if peer is None or not encrypted:
        return [main]
    hint = f"set {names.ca} to the CA that signed the server's certificate"
    line = tls_check(check.service, where, peer, client_verifies=True, verify_hint=hint)
    return [main] if line is None else [main, line]
