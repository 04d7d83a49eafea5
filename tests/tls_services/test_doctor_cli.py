"""`macroinfra doctor mongodb kafka minio` as a person runs it, against the responders over TLS
(Kafka SASL_SSL with SCRAM): the JSON document, the exit codes with and without --strict, and
no secret in any output."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
from helpers import Cli
from responders import FakeKafkaBroker, FakeMinioServer, FakeMongoServer, tls_context

pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")

USER, PASSWORD, BUCKET = "svc_user", "tls%pass/word", "macro-data"


def run(certs, pair, *args: str):
    with ExitStack() as stack:
        tls = tls_context(pair.cert, pair.key)
        mongo = stack.enter_context(FakeMongoServer(USER, PASSWORD, tls))
        kafka = stack.enter_context(FakeKafkaBroker(tls, {USER: PASSWORD}))
        minio = stack.enter_context(FakeMinioServer(USER, PASSWORD, {BUCKET}, tls))
        env = {
            "MACROINFRA_RUNTIME": "external",
            "MONGO_PORT": str(mongo.port),
            "MONGO_USER": USER,
            "MONGO_PASSWORD": PASSWORD,
            "MONGO_TLS": "true",
            "MONGO_TLS_CA": str(certs.ca),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka.port}",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SASL_USERNAME": USER,
            "KAFKA_SASL_PASSWORD": PASSWORD,
            "KAFKA_SSL_CA": str(certs.ca),
            "MINIO_ENDPOINT": f"127.0.0.1:{minio.port}",
            "MINIO_ROOT_USER": USER,
            "MINIO_ROOT_PASSWORD": PASSWORD,
            "MINIO_BUCKET": BUCKET,
            "MINIO_SECURE": "true",
            "MINIO_CA": str(certs.ca),
        }
        result = Cli(None)("doctor", "mongodb", "kafka", "minio", *args, env=env)
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output and "tls%25pass" not in result.output
    return result


def test_every_service_over_verified_tls(certs):
    result = run(certs, certs.server, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by_name = {c["name"]: c for c in doc["checks"]}
    for service in ("mongodb", "kafka", "minio"):
        assert by_name[service]["status"] == "ok", by_name[service]
        assert by_name[service]["info"]["encrypted"] is True
        line = by_name[f"{service}: tls"]
        assert line["status"] == "ok" and line["info"]["verified"] is True
        assert line["info"]["protocol"] == "TLSv1.3" and line["info"]["days_left"] >= 360


def test_certificates_expiring_soon_fail_only_under_strict(certs):
    assert run(certs, certs.expiring).exit_code == 0
    strict = run(certs, certs.expiring, "--strict", "--json")
    assert strict.exit_code == 1
    doc = json.loads(strict.stdout)
    warned = [c["name"] for c in doc["checks"] if c["reason"] == "tls_expiring"]
    assert warned == ["mongodb: tls", "kafka: tls", "minio: tls"]


def test_expired_certificates_fail_each_service_with_the_fix(certs):
    result = run(certs, certs.expired)
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("[✗]")]
    assert len(failed) == 3 and all("expired" in line for line in failed)
    assert result.stdout.count("fix: renew the server's certificate") == 3
