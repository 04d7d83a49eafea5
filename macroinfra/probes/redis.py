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
    client = redis.Redis(
        host=s.redis_host,
        port=s.redis_port,
        db=s.redis_db,
        password=s.redis_password.get_secret_value() if s.redis_password else None,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name="macroinfra-doctor",
    )
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
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
        else:
            yield cannot_talk(SERVICE, "Redis", where, exc, hint=ADDRESS_HINT, started=started)
        return
    finally:
        client.close()
    auth = "authenticated" if s.redis_password else "no password configured"
    yield _ok(
        f"Redis {version} ({auth})",
        started,
        version=version,
        authenticated=s.redis_password is not None,
        db=s.redis_db,
    )


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
        hint = "check REDIS_PASSWORD"
    return _fail(detail, hint, reason="auth", started=started)
