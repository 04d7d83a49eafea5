"""MinIO: the unauthenticated liveness endpoint, then a signed request (SigV4, via the MinIO SDK)
for the configured bucket, so wrong credentials show as an authentication failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from macroinfra.addresses import split_host_port
from macroinfra.errors import first_line
from macroinfra.probes._net import tcp_open
from macroinfra.probes.result import Check, failed, ok, waited, warning
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SERVICE = "minio"
_fail = partial(failed, SERVICE, SERVICE)
_warn = partial(warning, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that MINIO_ENDPOINT (and MINIO_SECURE) point at MinIO"
START_HINT = "start it with `macroinfra up`, or set MINIO_ENDPOINT"
LIVE_PATH = "/minio/health/live"
REGION = "us-east-1"  # named, so the SDK does not ask the server for the bucket's region first
AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    s = settings
    started = time.monotonic()
    host, port = split_host_port(s.minio_endpoint)
    closed = tcp_open(host, port, budget.client_timeout())
    if closed is not None:
        hint = START_HINT if closed.reason == "refused" else ADDRESS_HINT
        yield _fail(closed.detail, hint, reason=closed.reason, started=started)
        return

    timeout = budget.client_timeout()
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, maxsize=1
    )
    where = s.minio_url
    try:
        live = http.request("GET", f"{where}{LIVE_PATH}", preload_content=True)
        if live.status != 200:
            yield _fail(
                f"{where}{LIVE_PATH} answered HTTP {live.status}",
                ADDRESS_HINT,
                reason="unhealthy",
                started=started,
            )
            return
        client = Minio(
            s.minio_endpoint,
            access_key=s.minio_root_user,
            secret_key=s.minio_root_password.get_secret_value(),
            secure=s.minio_secure,
            region=REGION,
            http_client=http,
        )
        exists = client.bucket_exists(s.minio_bucket)
    except S3Error as exc:
        if exc.code in AUTH_CODES:
            yield _fail(
                f"authentication failed: MinIO refused a signed request for bucket "
                f"{s.minio_bucket!r} ({exc.code})",
                "check MINIO_ROOT_USER and MINIO_ROOT_PASSWORD",
                reason="auth",
                started=started,
            )
        else:
            yield _fail(
                f"MinIO answered {exc.code}: {exc.message}",
                ADDRESS_HINT,
                reason="error",
                started=started,
            )
        return
    except urllib3.exceptions.TimeoutError:
        yield _fail(
            f"no answer from MinIO at {where} within {waited(started)}",
            ADDRESS_HINT,
            reason="timeout",
            started=started,
        )
        return
    except (urllib3.exceptions.HTTPError, MinioException, ValueError) as exc:
        text = first_line(exc)
        reason = "refused" if "refused" in text.lower() else "error"
        yield _fail(
            f"cannot talk to MinIO at {where}: {text}",
            START_HINT if reason == "refused" else ADDRESS_HINT,
            reason=reason,
            started=started,
        )
        return
    finally:
        http.clear()
    if not exists:
        yield _warn(
            f"live and authenticated, but bucket {s.minio_bucket!r} does not exist",
            f"create it (`mc mb <alias>/{s.minio_bucket}`), or set MINIO_BUCKET",
            reason="missing_bucket",
            started=started,
            bucket=s.minio_bucket,
        )
        return
    yield _ok(
        f"live; bucket {s.minio_bucket!r} reachable with the credentials",
        started,
        bucket=s.minio_bucket,
        endpoint=where,
    )
