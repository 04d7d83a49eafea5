"""The MinIO probe with the MinIO SDK against: a responder for the liveness endpoint that
verifies the AWS Signature V4 of the bucket request, a closed port, and a silent port."""

from __future__ import annotations

import time

from helpers import free_port
from responders import FakeMinioServer, SilentServer

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

USER, SECRET, BUCKET = "macro-access", "minio/secret+key", "macro-data"


def probe(port: int, secret: str = SECRET, bucket: str = BUCKET, timeout: float = 3.0):
    settings = load_settings(
        None,
        minio_endpoint=f"127.0.0.1:{port}",
        minio_root_user=USER,
        minio_root_password=secret,
        minio_bucket=bucket,
    )
    report = run_doctor(settings, ["minio"], timeout=timeout, runtime="external")
    (check,) = report.checks
    return check


def test_live_and_a_signed_bucket_request():
    with FakeMinioServer(USER, SECRET, {BUCKET}) as server:
        check = probe(server.port)
    assert check.status == "ok", check
    head, live = server.requests
    assert (live["method"], live["path"]) == ("GET", "/minio/health/live")
    assert "authorization" not in live["headers"]
    assert (head["method"], head["path"]) == ("HEAD", f"/{BUCKET}")
    auth = head["headers"]["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={USER}/")
    assert server.signature_valid("HEAD", head["path"], head["headers"])
    assert SECRET not in auth


def test_the_signature_check_of_the_responder_rejects_a_changed_request():
    with FakeMinioServer(USER, SECRET, {BUCKET}) as server:
        probe(server.port)
    head = server.requests[0]
    assert not server.signature_valid("HEAD", "/other-bucket", head["headers"])
    assert not server.signature_valid("GET", head["path"], head["headers"])


def test_wrong_secret_is_an_authentication_failure():
    with FakeMinioServer(USER, SECRET, {BUCKET}) as server:
        check = probe(server.port, secret="wrong-secret")
    assert (check.status, check.reason) == ("failed", "auth")
    assert check.hint == "check MINIO_ROOT_USER and MINIO_ROOT_PASSWORD"


def test_missing_bucket_is_a_warning():
    with FakeMinioServer(USER, SECRET, {BUCKET}) as server:
        check = probe(server.port, bucket="other-bucket")
    assert (check.status, check.reason) == ("warning", "missing_bucket")
    assert "MINIO_BUCKET" in check.hint


def test_closed_port_is_refused_at_once():
    started = time.monotonic()
    check = probe(free_port(), timeout=5.0)
    assert (check.status, check.reason) == ("failed", "refused")
    assert time.monotonic() - started < 1.0


def test_silent_port_times_out_within_the_deadline():
    with SilentServer() as server:
        started = time.monotonic()
        check = probe(server.port, timeout=1.0)
        elapsed = time.monotonic() - started
    assert (check.status, check.reason) == ("failed", "timeout")
    assert elapsed < 1.5
