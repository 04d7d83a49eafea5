"""The probes' own TLS handshake, made before the client library connects, with the same trust
(the CA bundle, else the system store; the host name always checked): it tells an expired
certificate, a certificate for another name, an unknown CA and a server that does not speak
TLS apart, each with its fix, and gives the protocol version and the days until the
certificate expires. `finish` puts that on the service's check.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from macroinfra.probes._net import Unreachable
from macroinfra.probes.result import Check, Status

EXPIRY_WARNING_DAYS = 30
# OpenSSL's X509_V_ERR_* codes that name a cause of their own.
NOT_YET_VALID, EXPIRED = 9, 10
UNTRUSTED = {2, 18, 19, 20, 21}
NAME_MISMATCH = {62, 63, 64}


@dataclass(frozen=True)
class Names:
    """The settings a fix names, per service."""

    tls_on: str  # "MONGO_TLS=true"
    tls_off: str  # "MONGO_TLS=false"
    ca: str  # "MONGO_TLS_CA"
    host: str  # "MONGO_HOST"


@dataclass(frozen=True)
class Session:
    """A verified TLS session: the certificate chains to a trusted CA and names the host."""

    protocol: str
    expires: datetime

    def days_left(self) -> int:
        return (self.expires - datetime.now(UTC)).days

    def info(self) -> dict[str, Any]:
        return {
            "encrypted": True,
            "protocol": self.protocol,
            "verified": True,
            "certificate_expires": self.expires.isoformat(),
            "certificate_days_left": self.days_left(),
        }


@dataclass(frozen=True)
class Refused:
    """The handshake failed: why (machine-readable), what happened, and the fix."""

    reason: str
    detail: str
    hint: str


def context(ca: Path | None) -> ssl.SSLContext:
    """Verify the certificate and the host name, against `ca` or the system store."""
    ctx = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def handshake(
    host: str, port: int, timeout: float, ca: Path | None, names: Names
) -> Session | Refused | Unreachable:
    """Connect to host:port and complete a verified TLS handshake within `timeout` seconds."""
    from macroinfra.connections._ca import ca_problem

    where = f"{host}:{port}"
    try:
        ctx = context(ca)
    except (OSError, ssl.SSLError, ValueError):
        problem = ca_problem(names.ca, ca) if ca is not None else None
        return Refused("config", problem or f"{names.ca}: cannot load the CA bundle", names.ca)
    deadline = time.monotonic() + timeout
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return Unreachable("refused", f"connection refused at {where}")
    except TimeoutError:
        return Unreachable("timeout", f"no TCP connection to {where} within {timeout:.1f} s")
    except OSError as exc:
        return Unreachable("unreachable", f"cannot reach {where}: {exc.strerror or exc}")
    try:
        raw.settimeout(max(0.05, deadline - time.monotonic()))
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
            version = tls.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        return _verify_failure(exc, host, where, names)
    except TimeoutError:
        return Refused(
            "tls_timeout",
            f"no TLS handshake from {where} within {timeout:.1f} s: it may not speak TLS",
            f"point {names.host} at the TLS port, or set {names.tls_off}",
        )
    except (ssl.SSLError, OSError) as exc:
        return Refused(
            "not_tls",
            f"TLS handshake with {where} failed ({_ssl_reason(exc)}): it does not speak TLS there",
            f"point {names.host} at the TLS port, or set {names.tls_off}",
        )
    finally:
        raw.close()
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    return Session(version, expires)


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    return type(exc).__name__ if not str(exc) else str(exc).split("(")[0].strip()


def _verify_failure(
    exc: ssl.SSLCertVerificationError, host: str, where: str, names: Names
) -> Refused:
    code = exc.verify_code
    if code == EXPIRED:
        return Refused(
            "cert_expired",
            f"the TLS certificate of {where} has expired",
            "renew the server's certificate (the client refuses an expired one)",
        )
    if code == NOT_YET_VALID:
        return Refused(
            "cert_not_yet_valid",
            f"the TLS certificate of {where} is not valid yet",
            "check the clocks of this machine and the server, or reissue the certificate",
        )
    if code in NAME_MISMATCH:
        return Refused(
            "cert_name",
            f"the TLS certificate of {where} is not for {host!r}",
            f"set {names.host} to a name the certificate lists, or reissue it for {host}",
        )
    if code in UNTRUSTED:
        return Refused(
            "cert_untrusted",
            f"the TLS certificate of {where} is not signed by a trusted CA ({exc.verify_message})",
            f"set {names.ca} to the CA bundle (PEM) that signed the server's certificate",
        )
    return Refused(
        "cert_invalid",
        f"the TLS certificate of {where} was refused: {exc.verify_message}",
        "check the server's certificate",
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def finish(check: Check, session: Session | None, hosts: list[str], names: Names) -> Check:
    """The check with what its connection was (`info["tls"]`), and a warning when it works
    but the certificate expires within 30 days, or when a service off this machine is reached
    without TLS (a warning: `doctor --strict` fails on it)."""
    if session is None:
        info = {**check.info, "tls": {"encrypted": False}}
        if check.status is not Status.OK or all(is_loopback(h) for h in hosts):
            return replace(check, info=info)
        return replace(
            check,
            status=Status.WARNING,
            detail=f"{check.detail}; not encrypted (no TLS) to {', '.join(hosts)}",
            hint=f"turn TLS on with {names.tls_on}",
            reason="plaintext",
            info=info,
        )
    info = {**check.info, "tls": session.info()}
    if check.status is not Status.OK:
        return replace(check, info=info)
    days = session.days_left()
    detail = f"{check.detail}; {session.protocol}, certificate verified, expires in {days} days"
    if days >= EXPIRY_WARNING_DAYS:
        return replace(check, detail=detail, info=info)
    return replace(
        check,
        status=Status.WARNING,
        detail=detail,
        hint=f"renew the server's certificate before {session.expires:%Y-%m-%d}",
        reason="cert_expiring",
        info=info,
    )
