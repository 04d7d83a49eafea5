"""Redis: AUTH (when a password is configured), PING, and the server version."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from macroinfra.errors import first_line
from macroinfra.probes.result import Check, cannot_talk, failed, ok, waited
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.connections.tls import PeerTls
    from macroinfra.settings import Settings

SERVICE = "redis"
_fail = partial(failed, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that REDIS_HOST/REDIS_PORT point at Redis"


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    s = settings
    where = f"{s.redis_host}:{s.redis_port}"
    started = time.monotonic()
    timeout = budget.client_timeout()
    from macroinfra.connections.redis import make_client

    client = make_client(
        s,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name="macroinfra-doctor",
    )
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
        peer = _peer_of(client, s)
    except redis.AuthenticationError as exc:
        yield _auth_failure(s, where, exc, started)
        return
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "AUTH" in str(exc):
            yield _auth_failure(s, where, exc, started)
        else:
            yield _fail(
                f"Redis at {where} answered with an error: {first_line(exc)}",
                ADDRESS_HINT,
                reason="error",
                started=started,
            )
        return
    except redis.TimeoutError:
        yield _fail(
            f"no answer from {where} within {waited(started)}",
            ADDRESS_HINT,
            reason="timeout",
            started=started,
        )
        return
    except redis.ConnectionError as exc:
        text = str(exc).lower()
        if "refused" in text:
            yield _fail(
                f"connection refused at {where}",
                "start it with `macroinfra up`, or set REDIS_HOST/REDIS_PORT",
                reason="refused",
                started=started,
            )
        elif "timeout" in text or "timed out" in text:
            yield _fail(
                f"no answer from {where} within {waited(started)}",
                ADDRESS_HINT,
                reason="timeout",
                started=started,
            )
        elif tls := _tls_failure(s, where, text, timeout):
            yield tls
        else:
            yield cannot_talk(SERVICE, "Redis", where, exc, hint=ADDRESS_HINT, started=started)
        return
    finally:
        client.close()
    auth = "authenticated" if s.redis_password else "no password configured"
    if s.redis_username:
        auth = f"authenticated as {s.redis_username}"
    check = _ok(
        f"Redis {version} ({auth})",
        started,
        version=version,
        authenticated=s.redis_password is not None,
        db=s.redis_db,
    )
    from macroinfra.probes.tls import tls_check, with_encryption

    protocol = peer.protocol if peer is not None else None
    yield with_encryption(check, peer is not None, protocol, host=s.redis_host)
    if peer is not None:
        hint = "set REDIS_TLS_CA to the CA that signed the server's certificate"
        if check := tls_check(SERVICE, where, peer, client_verifies=True, verify_hint=hint):
            yield check


def _auth_failure(s: Settings, where: str, exc: BaseException, started: float) -> Check:
    text = str(exc)
    if s.redis_password is None:
        detail = f"authentication failed: Redis at {where} requires a password"
        hint = "set REDIS_PASSWORD"
    elif "without any password configured" in text or "no password is set" in text:
        detail = f"authentication failed: Redis at {where} has no password, but one is set"
        hint = "unset REDIS_PASSWORD, or give the server a password (requirepass)"
    else:
        detail = f"authentication failed: Redis at {where} rejected the password"
        hint = (
            "check REDIS_USERNAME and REDIS_PASSWORD"
            if s.redis_username
            else "check REDIS_PASSWORD"
        )
    return _fail(detail, hint, reason="auth", started=started)


# -- TLS ---------------------------------------------------------------------------------------


def _peer_of(client: redis.Redis, s: Settings) -> PeerTls | None:
    """The TLS of the connection the checks just used (None: not encrypted)."""
    import ssl

    from macroinfra.connections.tls import peer_of_socket

    if not s.redis_tls:
        return None
    pool = client.connection_pool
    conn = pool.get_connection()  # the one the checks used, back in the pool, still open
    try:
        sock = getattr(conn, "_sock", None)
        return peer_of_socket(sock, s.redis_host) if isinstance(sock, ssl.SSLSocket) else None
    finally:
        pool.release(conn)


def _tls_failure(s: Settings, where: str, text: str, timeout: float) -> Check | None:
    """A connection that failed over TLS, or for the lack of it: what is wrong, what to set."""
    if not s.redis_tls:
        if "closed by server" in text or "reset" in text:
            return _fail(
                f"Redis at {where} closed the connection: it may expect TLS",
                "set REDIS_TLS=on (and REDIS_TLS_CA) if it serves TLS on this port",
                reason="tls",
            )
        return None
    if "certificate" in text:
        from macroinfra.connections.tls import inspect_peer
        from macroinfra.probes.tls import handshake_failure

        try:
            peer = inspect_peer(s.redis_host, s.redis_port, s.redis_tls_ca, timeout)
        except OSError:
            peer = None
        return handshake_failure(SERVICE, where, peer, "REDIS_TLS_CA", s.redis_tls_ca)
    if "ssl" in text or "wrong version" in text or "closed" in text or "reset" in text:
        return _fail(
            f"Redis at {where} did not complete a TLS handshake: it may not serve TLS there",
            "point REDIS_PORT at its TLS port (tls-port), or set REDIS_TLS=off",
            reason="tls",
        )
    return None
