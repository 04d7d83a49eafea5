"""What a service's TLS looks like from here: protocol, whether its certificate verifies against
the configured CA (else the system's store), whether it names the host we dial, and its days
until expiry. One short handshake of Python's ssl module, after PostgreSQL's SSLRequest for
PostgreSQL (libpq does not hand out the peer certificate); nothing is sent after it.

Also the reasons a handshake fails, each as one line saying what is wrong and what to do.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import socket
import ssl
import struct
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest message
EXPIRY_WARNING_DAYS = 30
# OpenSSL's X509_V_ERR_* codes that name what is wrong with a certificate.
EXPIRED, NOT_YET_VALID = 10, 9
NAME_MISMATCH = {62, 64}  # a host name, an IP address
UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer found, self-signed, unable to verify


@dataclass(frozen=True)
class PeerTls:
    encrypted: bool
    protocol: str | None = None  # "TLSv1.3"
    trusted: bool | None = None  # the chain verifies against the CA given (or the system's)
    name_matches: bool | None = None  # the certificate names the host we dial
    days_left: int | None = None  # until notAfter; negative once expired
    not_after: str | None = None  # ISO 8601 date
    problem: str | None = None  # why it does not verify, in words

    def as_info(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def context(ca: Path | str | None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context: the CA file given (or the system's store), the host name checked.
    Made once per CA file in a process: loading the system's store takes tens of ms."""
    return _context(str(ca) if ca is not None else None, verify)


@functools.lru_cache(maxsize=8)
def _context(ca: str | None, verify: bool) -> ssl.SSLContext:
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca is None or str(ca) == "system":
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(ca))


def _connect(host: str, port: int, timeout: float, postgres: bool) -> socket.socket | None:
    """A TCP connection ready for the TLS handshake; None when a PostgreSQL server refuses TLS."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if not postgres:
        return sock
    try:
        sock.sendall(SSL_REQUEST)
        answer = sock.recv(1)
    except OSError:
        sock.close()
        raise
    if answer != b"S":
        sock.close()
        return None
    return sock


def _handshake(
    host: str, port: int, ctx: ssl.SSLContext, timeout: float, postgres: bool
) -> ssl.SSLSocket | None:
    sock = _connect(host, port, timeout, postgres)
    if sock is None:
        return None
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def inspect_peer(
    host: str, port: int, ca: Path | str | None, timeout: float, *, postgres: bool = False
) -> PeerTls:
    """The server's TLS as seen from here. Raises OSError when it cannot be reached at all."""
    try:
        tls = _handshake(host, port, context(ca), timeout, postgres)
    except ssl.SSLCertVerificationError as exc:
        return _unverified(host, port, timeout, postgres, exc)
    if tls is None:
        return PeerTls(encrypted=False)
    with tls:
        return _described(tls.version(), tls.getpeercert(), host, trusted=True)


def peer_of_socket(sock: ssl.SSLSocket, host: str) -> PeerTls:
    """The same, for a socket that already verified its peer (redis-py's, ...)."""
    return _described(sock.version(), sock.getpeercert(), host, trusted=True)


def _unverified(
    host: str, port: int, timeout: float, postgres: bool, error: ssl.SSLCertVerificationError
) -> PeerTls:
    """The certificate did not verify: look at it without verifying, to say what is wrong."""
    problem = describe_failure(error.verify_code, error.verify_message, host)
    try:
        tls = _handshake(host, port, context(None, verify=False), timeout, postgres)
    except (OSError, ssl.SSLError):
        return PeerTls(encrypted=True, trusted=False, problem=problem)
    if tls is None:
        return PeerTls(encrypted=False)
    with tls:
        der = tls.getpeercert(binary_form=True)
        found = _described(tls.version(), _decode(der), host, trusted=False)
    matches = False if error.verify_code in NAME_MISMATCH else found.name_matches
    trusted = error.verify_code not in UNTRUSTED  # the chain itself verifies
    return replace(found, trusted=trusted, name_matches=matches, problem=problem)


def _decode(der: bytes | None) -> dict[str, Any]:
    """A DER certificate as getpeercert() describes a verified one ({} when it cannot be read)."""
    if not der:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
        pem.write(ssl.DER_cert_to_PEM_cert(der))
        pem.flush()
        try:
            return ssl._ssl._test_decode_cert(pem.name)  # type: ignore[attr-defined]
        except (AttributeError, ssl.SSLError, OSError):
            return {}


def _described(
    protocol: str | None, cert: dict[str, Any] | None, host: str, *, trusted: bool
) -> PeerTls:
    days_left = not_after = None
    if cert and cert.get("notAfter"):
        end = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), dt.UTC)
        days_left = (end - dt.datetime.now(dt.UTC)).days
        not_after = end.date().isoformat()
    matches = names_host(cert, host) if cert else None
    return PeerTls(True, protocol, trusted, matches, days_left, not_after)


def names_host(cert: dict[str, Any], host: str) -> bool:
    """The certificate's subjectAltName holds `host` (an IP address or a DNS name, with one
    leading wildcard label allowed), as OpenSSL's own check reads it."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    for kind, value in cert.get("subjectAltName", ()):
        if address is not None and kind == "IP Address":
            try:
                if ipaddress.ip_address(value.strip()) == address:
                    return True
            except ValueError:
                continue
        elif address is None and kind == "DNS":
            pattern, name = value.lower().rstrip("."), host.lower().rstrip(".")
            if pattern == name:
                return True
            if pattern.startswith("*.") and name.split(".", 1)[-1] == pattern[2:] and "." in name:
                return True
    return False


def describe_failure(code: int | None, message: str | None, host: str) -> str:
    """One line for a certificate that did not verify."""
    if code == EXPIRED:
        return "the server's certificate has expired"
    if code == NOT_YET_VALID:
        return "the server's certificate is not valid yet (check the clocks)"
    if code in NAME_MISMATCH:
        return f"the server's certificate is not for {host}"
    if code in UNTRUSTED:
        return "the server's certificate is not signed by the CA given"
    return f"the server's certificate does not verify: {message or 'unknown reason'}"


def is_loopback(host: str) -> bool:
    """`host` is this machine: 127.0.0.0/8, ::1 or localhost."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
