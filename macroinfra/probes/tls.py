"""The `<service>: tls` line of `doctor`: protocol, verification and days until expiry of the
certificate a service presents (macroinfra.connections.tls looks at it), and the failure line
when a handshake did not verify. Also the `--strict` rule: a service not on this machine is
reached over TLS (macroinfra.probes.strict)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from macroinfra.connections.tls import EXPIRY_WARNING_DAYS, PeerTls, is_loopback
from macroinfra.probes.result import Check, failed, ok, warning

if TYPE_CHECKING:
    from pathlib import Path

RENEW = "renew the server's certificate"


def with_encryption(
    check: Check, encrypted: bool, over: str | None, *, host: str | None = None
) -> Check:
    """The check saying whether its connection was encrypted: in its info always, and in its
    line ", over <over>" (`over` the protocol; nothing when unknown) or ", not encrypted".
    Given the `host`, the line is quiet about a plain connection to this machine."""
    if encrypted:
        suffix = f", over {over}" if over else ""
    else:
        suffix = "" if host is not None and is_loopback(host) else ", not encrypted"
    return replace(check, detail=check.detail + suffix, info={**check.info, "encrypted": encrypted})


def tls_check(
    service: str, where: str, peer: PeerTls, *, client_verifies: bool, verify_hint: str
) -> Check | None:
    """The TLS line of an encrypted connection (None when it is not encrypted).

    `client_verifies`: the client checks the certificate (verify-full, REDIS_TLS, ...);
    `verify_hint`: the settings that make it do so, for a client that does not."""
    if not peer.encrypted:
        return None
    name = f"{service}: tls"
    info = {**peer.as_info(), "verified": bool(client_verifies and peer.trusted)}
    protocol = peer.protocol or "TLS"
    if peer.days_left is not None and peer.days_left < 0:
        return failed(
            name,
            service,
            f"{protocol}: the certificate of {where} expired on {peer.not_after}",
            f"{RENEW} (it expired {-peer.days_left} days ago)",
            reason="tls_expired",
            **info,
        )
    if peer.name_matches is False:
        return failed(
            name,
            service,
            f"{protocol}: the certificate of {where} is not for {where.rsplit(':', 1)[0]}",
            "connect by a name the certificate holds, or reissue it for this name",
            reason="tls_name",
            **info,
        )
    if peer.trusted is False:
        return warning(
            name,
            service,
            f"{protocol}, certificate NOT verified: {peer.problem or 'unknown issuer'}",
            verify_hint,
            reason="tls_unverified",
            **info,
        )
    expiry = f"expires in {peer.days_left} days ({peer.not_after})"
    if not client_verifies:
        return warning(
            name,
            service,
            f"{protocol}, certificate not checked by the client, {expiry}",
            verify_hint,
            reason="tls_unverified",
            **info,
        )
    if peer.days_left is not None and peer.days_left < EXPIRY_WARNING_DAYS:
        return warning(
            name,
            service,
            f"{protocol}, certificate verified, but it {expiry}",
            RENEW,
            reason="tls_expiring",
            **info,
        )
    return ok(name, service, f"{protocol}, certificate verified, {expiry}", None, **info)


def handshake_failure(
    service: str, where: str, peer: PeerTls | None, ca_variable: str, ca: Path | str | None
) -> Check:
    """A connection the client refused because of the certificate: what is wrong with it."""
    if peer is None or peer.problem is None:
        detail = f"the TLS handshake with {where} failed"
        hint = f"check {ca_variable} and the server's certificate"
    elif peer.days_left is not None and peer.days_left < 0:
        detail = f"{peer.problem} (on {peer.not_after}): {where} refused"
        hint = RENEW
    elif peer.name_matches is False:
        detail = f"{peer.problem}: {where} refused"
        hint = "connect by a name the certificate holds, or reissue it for this name"
    else:
        detail = f"{peer.problem}: {where} refused"
        shown = ca if ca is not None else "the system's store"
        hint = f"set {ca_variable} to the CA that signed the server's certificate (now: {shown})"
    info = peer.as_info() if peer is not None else {}
    return failed(service, service, detail, hint, reason="tls", **info)
