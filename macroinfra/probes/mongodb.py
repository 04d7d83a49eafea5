"""MongoDB: an authenticated `ping` as the configured user (authSource admin), and the version."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from pymongo import MongoClient
from pymongo.errors import (
    ConnectionFailure,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from macroinfra.errors import first_line
from macroinfra.probes._net import tcp_open
from macroinfra.probes.result import Check, cannot_talk, failed, ok, waited
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SERVICE = "mongodb"
_fail = partial(failed, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that MONGO_HOST/MONGO_PORT point at MongoDB"
START_HINT = "start it with `macroinfra up`, or set MONGO_HOST/MONGO_PORT"
AUTH_FAILED = 18  # MongoDB's AuthenticationFailed error code
MONITOR_POLL_S = 0.5


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    s = settings
    where = f"{s.mongo_host}:{s.mongo_port}"
    started = time.monotonic()
    closed = tcp_open(s.mongo_host, s.mongo_port, budget.client_timeout())
    if closed is not None:
        hint = START_HINT if closed.reason == "refused" else ADDRESS_HINT
        yield _fail(closed.detail, hint, reason=closed.reason, started=started)
        return

    # pymongo's monitor thread notices a close only after its current 0.5 s sleep or poll, and
    # pymongo's exit hook waits for it: give up that much earlier, so it is gone by the deadline.
    ms = max(50, int((budget.client_timeout() - MONITOR_POLL_S) * 1000))
    client: MongoClient = MongoClient(
        host=s.mongo_host,
        port=s.mongo_port,
        username=s.mongo_user,
        password=s.mongo_password.get_secret_value(),
        authSource="admin",
        directConnection=True,
        appname="macroinfra-doctor",
        # One limit for every phase: selecting, connecting, reading, the whole operation.
        **dict.fromkeys(
            ("serverSelectionTimeoutMS", "connectTimeoutMS", "socketTimeoutMS", "timeoutMS"), ms
        ),
        retryReads=False,
        retryWrites=False,
        maxPoolSize=1,
    )
    try:
        client.admin.command("ping")
        version = client.admin.command("buildInfo").get("version", "?")
    except OperationFailure as exc:
        if exc.code == AUTH_FAILED or "auth" in str(exc).lower():
            yield _fail(
                f"authentication failed: MongoDB at {where} rejected user {s.mongo_user!r}",
                "check MONGO_USER and MONGO_PASSWORD",
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
    except (ConnectionFailure, PyMongoError) as exc:
        yield cannot_talk(SERVICE, "MongoDB", where, exc, hint=ADDRESS_HINT, started=started)
        return
    finally:
        client.close()
    yield _ok(
        f"MongoDB {version} (authenticated as {s.mongo_user})",
        started,
        version=version,
        user=s.mongo_user,
    )
