"""MinIO, or any S3-compatible store: a signed request (SigV4, by the MinIO SDK) for the
configured bucket, so wrong credentials show as an authentication failure; then MinIO's
unauthenticated liveness endpoint, reported when the server has one (a plain S3 server has not,
and that is no failure). Over HTTPS (MINIO_SECURE), the probe's own handshake first reports the
certificate, verified against MINIO_CA or the system store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import urllib3
from minio.error import MinioException, S3Error

from macroinfra.addresses import split_host_port
from macroinfra.errors import first_line
from macroinfra.probes import _tls
from macroinfra.probes._net import Unreachable
from macroinfra.probes.result import Check, failed, ok, waited, warning
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SERVICE = "minio"
_fail = partial(failed, SERVICE, SERVICE)
_warn = partial(warning, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that MINIO_ENDPOINT (and MINIO_SECURE) point at MinIO or S3"
START_HINT = "start it with `macroinfra up`, or set MINIO_ENDPOINT"
LIVE_PATH = "/minio/health/live"
AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
REGION_CODES = {"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraint"}
REGION_MARK = "use region "  # the SDK's words when the server names the bucket's region
NAMES = _tls.Names("MINIO_SECURE=false", "MINIO_CA", "MINIO_ENDPOINT")


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    from macroinfra.connections import s3

    s = settings
    started = time.monotonic()
    host, port = split_host_port(s.minio_endpoint)
    timeout = budget.client_timeout()
    found = _tls.reach(host, port, timeout, s.minio_ca, NAMES, tls=s.minio_secure)
    if isinstance(found, Unreachable):
        hint = START_HINT if found.reason == "refused" else ADDRESS_HINT
        yield _fail(found.detail, hint, reason=found.reason, started=started)
        return
    if stop := _tls.stopped(found, SERVICE, s.minio_endpoint, NAMES, s.minio_ca, started):
        yield stop
        return
    peer = found

    timeout = budget.client_timeout()
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
        maxsize=1,
        # Its own context, from MINIO_CA: urllib3 changes the context it is given (ALPN).
        **s3.http_options(s),
    )
    where = s.minio_url
    try:
        exists = s3.client(s, http).bucket_exists(s.minio_bucket)
        live = _live(http, where)
    except S3Error as exc:
        yield _s3_error(s, exc, started)
        return
    except urllib3.exceptions.TimeoutError:
        yield _fail(
            f"no answer from the object store at {where} within {waited(started)}",
            ADDRESS_HINT,
            reason="timeout",
            started=started,
        )
        return
    except (urllib3.exceptions.HTTPError, MinioException, ValueError) as exc:
        text = first_line(exc)
        if not s.minio_secure and ("remote end closed" in text.lower() or "reset" in text.lower()):
            yield _fail(
                f"the object store at {where} closed the connection: it may expect HTTPS",
                "set MINIO_SECURE=true (and MINIO_CA) if it serves HTTPS on this port",
                reason="tls",
                started=started,
            )
            return
        reason = "refused" if "refused" in text.lower() else "error"
        yield _fail(
            f"cannot talk to the object store at {where}: {text}",
            START_HINT if reason == "refused" else ADDRESS_HINT,
            reason=reason,
            started=started,
        )
        return
    finally:
        http.clear()
    kind = "MinIO live" if live else "S3 endpoint"
    if not exists:
        check = _warn(
            f"{kind}, authenticated, but bucket {s.minio_bucket!r} does not exist",
            f"create it (`mc mb <alias>/{s.minio_bucket}`), or set MINIO_BUCKET",
            reason="missing_bucket",
            started=started,
            bucket=s.minio_bucket,
            minio_live=live,
        )
    else:
        check = _ok(
            f"{kind}; bucket {s.minio_bucket!r} reachable with the credentials",
            started,
            bucket=s.minio_bucket,
            endpoint=where,
            region=s3.region(s),
            minio_live=live,
        )
    yield from _tls.report(check, peer, s.minio_endpoint, NAMES)


def _live(http: urllib3.PoolManager, where: str) -> bool:
    """MinIO's liveness endpoint answers 200; any other answer (or none) means a server
    without one: the signed request has already shown the store works."""
    try:
        return http.request("GET", f"{where}{LIVE_PATH}", preload_content=True).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def _s3_error(s: Settings, exc: S3Error, started: float) -> Check:
    from macroinfra.connections import s3

    if exc.code in AUTH_CODES:
        return _fail(
            f"authentication failed: the object store refused a signed request for bucket "
            f"{s.minio_bucket!r} ({exc.code})",
            "check MINIO_ROOT_USER and MINIO_ROOT_PASSWORD",
            reason="auth",
            started=started,
        )
    message = exc.message or ""
    if exc.code in REGION_CODES or REGION_MARK in message:
        named = message.partition(REGION_MARK)[2].strip()
        return _fail(
            f"the object store refused the region {s3.region(s)!r} of the signed request "
            f"({exc.code})",
            f"set MINIO_REGION={named}" if named else "set MINIO_REGION to the bucket's region",
            reason="region",
            started=started,
        )
    return _fail(
        f"the object store answered {exc.code}: {exc.message}",
        ADDRESS_HINT,
        reason="error",
        started=started,
    )
