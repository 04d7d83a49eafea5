"""MongoDB: an authenticated `ping` as the configured user, and the version, over TLS when
MONGO_TLS (or MONGO_URL) says so: the probe's own handshake first reports the certificate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from pymongo import MongoClient
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from macroinfra.errors import first_line
from macroinfra.probes import _tls
from macroinfra.probes._net import Unreachable
from macroinfra.probes.result import Check, cannot_talk, failed, ok, waited
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.connections.tls import PeerTls
    from macroinfra.settings import Settings

SERVICE = "mongodb"
_fail = partial(failed, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that MONGO_HOST/MONGO_PORT (or MONGO_URL) point at MongoDB"
START_HINT = "start it with `macroinfra up`, or set MONGO_HOST/MONGO_PORT (or MONGO_URL)"
NAMES = _tls.Names("MONGO_TLS=false", "MONGO_TLS_CA", "MONGO_HOST (or MONGO_URL)")
AUTH_FAILED = 18  # MongoDB's AuthenticationFailed error code
MONITOR_POLL_S = 0.5


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    from macroinfra.connections import mongo

    s = settings
    t = mongo.target(s)
    where = t.host if t.srv else f"{t.host}:{t.port}"
    started = time.monotonic()
    peer: PeerTls | None = None
    if not t.srv:  # an SRV name has no address of its own: the driver resolves it
        found = _tls.reach(t.host, t.port, budget.client_timeout(), t.tls_ca, NAMES, tls=t.tls)
        if isinstance(found, Unreachable):
            hint = START_HINT if found.reason == "refused" else ADDRESS_HINT
            yield _fail(found.detail, hint, reason=found.reason, started=started)
            return
        if stop := _tls.stopped(found, SERVICE, where, NAMES, t.tls_ca, started):
            yield stop
            return
        peer = found

    # pymongo's monitor thread notices a close only after its current 0.5 s sleep or poll, and
    # pymongo's exit hook waits for it: give up that much earlier, so it is gone by the deadline.
    ms = max(50, int((budget.client_timeout() - MONITOR_POLL_S) * 1000))
    client: MongoClient | None = None
    try:
        client = MongoClient(
            **mongo.client_options(s),
            appname="macroinfra-doctor",
            # One limit for every phase: selecting, connecting, reading, the whole operation.
            **dict.fromkeys(
                ("serverSelectionTimeoutMS", "connectTimeoutMS", "socketTimeoutMS", "timeoutMS"),
                ms,
            ),
            retryReads=False,
            retryWrites=False,
            maxPoolSize=1,
        )
        client.admin.command("ping")
        version = client.admin.command("buildInfo").get("version", "?")
    except OperationFailure as exc:
        if exc.code == AUTH_FAILED or "auth" in str(exc).lower():
            yield _fail(
                f"authentication failed: MongoDB at {where} rejected user {t.user!r} "
                f"(authSource {t.auth_source!r})",
                "check MONGO_USER, MONGO_PASSWORD and MONGO_AUTH_SOURCE (or MONGO_URL)",
                reason="auth",
                started=started,
            )
        else:
            yield _fail(
                f"MongoDB at {where} answered with an error: {first_line(exc)}",
                ADDRESS_HINT,
                reason="error",
                started=started,
            )
        return
    except (ServerSelectionTimeoutError, NetworkTimeout) as exc:
        text = str(exc).lower()
        if not t.tls and ("reset by peer" in text or "closed" in text):
            yield _fail(
                f"MongoDB at {where} closed each connection: it may expect TLS",
                "set MONGO_TLS=true (and MONGO_TLS_CA) if it serves TLS on this port",
                reason="tls",
                started=started,
            )
            return
        reason = "refused" if "refused" in text else "timeout"
        detail = (
            f"connection refused at {where}"
            if reason == "refused"
            else f"no answer from MongoDB at {where} within {waited(started)}"
        )
        yield _fail(
            detail,
            START_HINT if reason == "refused" else ADDRESS_HINT,
            reason=reason,
            started=started,
        )
        return
    except ConfigurationError as exc:
        text = first_line(exc)
        srv = t.srv and ("dns" in text.lower() or "srv" in text.lower())
        yield _fail(
            f"cannot resolve the SRV record of {t.host}: {text}"
            if srv
            else f"MongoDB settings refused by the driver: {text}",
            "check the host name of MONGO_URL" if srv else "fix MONGO_URL or the MONGO_* settings",
            reason="dns" if srv else "config",
            started=started,
        )
        return
    except (ConnectionFailure, PyMongoError) as exc:
        yield cannot_talk(
            SERVICE,
            "MongoDB",
            where,
            RuntimeError(first_line(exc)),
            hint=ADDRESS_HINT,
            started=started,
        )
        return
    finally:
        if client is not None:
            client.close()
    check = _ok(
        f"MongoDB {version} (authenticated as {t.user})",
        started,
        version=version,
        user=t.user,
        auth_source=t.auth_source,
    )
    if t.srv:  # the driver verified it; the probe had no address of its own to handshake with
        from macroinfra.probes.tls import with_encryption

        yield with_encryption(check, t.tls, "TLS (verified by the driver)")
        return
    yield from _tls.report(check, peer, where, NAMES)
