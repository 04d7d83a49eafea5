"""The object-store probe over HTTPS and against a plain S3 server: the MinIO SDK's signed HEAD
of the bucket (SigV4, verified by the responder) through urllib3's TLS with MINIO_CA, MinIO's
liveness endpoint as a bonus, MINIO_REGION, and the certificates the client would refuse."""

from __future__ import annotations

import time

import pytest
from responders import FakeMinioServer, tls_context

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

USER, SECRET, BUCKET = "macro-access", "s3/secret+key", "macro-data"


def doctor(port: int, timeout: float = 3.0, **settings):
    values = {
        "minio_endpoint": f"127.0.0.1:{port}",
        "minio_root_user": USER,
        "minio_root_password": SECRET,
        "minio_bucket": BUCKET,
        **settings,
    }
    return run_doctor(load_settings(None, **values), ["minio"], timeout=timeout, runtime="external")


def https_server(pair, **kw):
    return FakeMinioServer(USER, SECRET, {BUCKET}, tls_context(pair.cert, pair.key), **kw)


def test_https_with_the_ca_signed_head_and_liveness(certs):
    with https_server(certs.server) as server:
        report = doctor(server.port, minio_secure=True, minio_ca=str(certs.ca))
    main, tls = report.checks
    assert report.ok and main.status == "ok", main
    assert (
        main.detail == f"MinIO live; bucket {BUCKET!r} reachable with the credentials, over TLSv1.3"
    )
    assert main.info["minio_live"] is True and main.info["encrypted"] is True
    assert (tls.name, tls.status) == ("minio: tls", "ok")
    head, live = server.requests
    assert head["method"] == "HEAD"
    assert server.signature_valid("HEAD", head["path"], head["headers"])
    assert live["path"] == "/minio/health/live"
    assert server.tls_versions and set(server.tls_versions) == {"TLSv1.3"}


def test_a_plain_s3_server_passes_on_the_signed_head_alone():
    with FakeMinioServer(USER, SECRET, {BUCKET}, liveness=False) as server:
        report = doctor(server.port)
    (check,) = report.checks
    assert check.status == "ok", check
    assert check.detail.startswith(f"S3 endpoint; bucket {BUCKET!r} reachable")
    assert check.info["minio_live"] is False


def test_the_region_signs_the_request():
    with FakeMinioServer(USER, SECRET, {BUCKET}, liveness=False, region="eu-central-1") as server:
        wrong = doctor(server.port)
        right = doctor(server.port, minio_region="eu-central-1")
    (check,) = wrong.checks
    assert (check.status, check.reason) == ("failed", "region")
    assert check.hint == "set MINIO_REGION=eu-central-1"
    assert "'us-east-1'" in check.detail
    assert right.checks[0].status == "ok" and right.checks[0].info["region"] == "eu-central-1"
    signed = server.requests[-2]["headers"]["authorization"]
    assert "/eu-central-1/s3/aws4_request" in signed


def test_wrong_secret_over_https_is_an_authentication_failure(certs):
    with https_server(certs.server) as server:
        report = doctor(
            server.port, minio_secure=True, minio_ca=str(certs.ca), minio_root_password="wrong"
        )
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "auth")


@pytest.mark.parametrize(
    ("pair", "ca", "words", "hint"),
    [
        ("expired", "ca", "expired", "renew"),
        ("wrong_host", "ca", "not for 127.0.0.1", "a name the certificate holds"),
        ("server", "other_ca", "not signed by the CA given", "MINIO_CA"),
    ],
)
def test_certificate_the_client_would_refuse(certs, pair, ca, words, hint):
    with https_server(getattr(certs, pair)) as server:
        report = doctor(server.port, minio_secure=True, minio_ca=str(getattr(certs, ca)))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert words in check.detail and hint in check.hint
    assert server.requests == []  # nothing signed was sent


def test_https_against_a_plain_http_server_is_one_line(certs):
    with FakeMinioServer(USER, SECRET, {BUCKET}) as server:
        started = time.monotonic()
        report = doctor(server.port, timeout=1.0, minio_secure=True, minio_ca=str(certs.ca))
        elapsed = time.monotonic() - started
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "MINIO_SECURE=false" in check.hint
    assert elapsed < 1.5


def test_http_against_an_https_server_is_one_line(certs):
    with https_server(certs.server) as server:
        report = doctor(server.port, timeout=1.0)
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "MINIO_SECURE=true" in check.hint
