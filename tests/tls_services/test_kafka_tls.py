"""The Kafka probe over real TLS and SASL: kafka-python's own TLS and SASL (SCRAM-SHA-256,
SCRAM-SHA-512, PLAIN) against the Kafka responder wrapped in Python's ssl, which computes the
SCRAM exchange for real; bad certificates, wrong passwords, a mechanism the broker lacks, and
TLS against a broker without it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pytest
from responders import (
    API_VERSIONS,
    METADATA,
    SASL_AUTHENTICATE,
    SASL_HANDSHAKE,
    FakeKafkaBroker,
    tls_context,
)

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")

USER, PASSWORD = "ingest", "k@fka%pass,word="
USERS = {USER: PASSWORD}


def doctor(broker, timeout: float = 3.0, **settings):
    settings.setdefault("kafka_bootstrap_servers", f"127.0.0.1:{broker.port}")
    report = run_doctor(
        load_settings(None, **settings), ["kafka"], timeout=timeout, runtime="external"
    )
    assert PASSWORD not in json.dumps([asdict(c) for c in report.checks], default=str)
    return report


def sasl_ssl(ca, mechanism="SCRAM-SHA-512", password=PASSWORD):
    return {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": mechanism,
        "kafka_sasl_username": USER,
        "kafka_sasl_password": password,
        "kafka_ssl_ca": str(ca),
    }


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_ssl_authenticates_over_verified_tls(certs, mechanism):
    with FakeKafkaBroker(tls_context(certs.server.cert, certs.server.key), USERS) as broker:
        report = doctor(broker, **sasl_ssl(certs.ca, mechanism))
    main, tls = report.checks
    assert report.ok and main.status == "ok", main
    assert main.detail.endswith(", over TLSv1.3") and main.info["encrypted"] is True
    assert main.info["security_protocol"] == "SASL_SSL"
    assert (tls.name, tls.status) == ("kafka: tls", "ok")
    # The broker authenticated the user with that mechanism before it answered Metadata.
    assert (mechanism, USER) in broker.authenticated and not broker.rejected
    keys = [key for key, _ in broker.requests]
    assert {API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA} <= set(keys)
    assert keys.index(SASL_AUTHENTICATE) < keys.index(METADATA)
    assert set(broker.tls_versions) == {"TLSv1.3"}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_wrong_password_is_an_authentication_failure_at_once(certs, mechanism):
    with FakeKafkaBroker(tls_context(certs.server.cert, certs.server.key), USERS) as broker:
        started = time.monotonic()
        report = doctor(broker, timeout=5.0, **sasl_ssl(certs.ca, mechanism, "wrong-password"))
        elapsed = time.monotonic() - started
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "auth")
    assert check.detail == (
        f"authentication failed: the broker rejected SASL user {USER!r} ({mechanism})"
    )
    assert "KAFKA_SASL_PASSWORD" in check.hint
    assert broker.rejected and not broker.authenticated
    assert elapsed < 2.0  # not retried until the deadline


def test_mechanism_the_broker_does_not_offer(certs):
    broker = FakeKafkaBroker(users=USERS, mechanisms=("SCRAM-SHA-256",))
    with broker:
        report = doctor(
            broker,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER,
            kafka_sasl_password=PASSWORD,
        )
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "auth")
    assert "does not offer SASL mechanism SCRAM-SHA-512" in check.detail
    assert check.hint == "set KAFKA_SASL_MECHANISM to one the broker lists"


def test_sasl_plaintext_is_reported_as_not_encrypted():
    with FakeKafkaBroker(users=USERS) as broker:
        report = doctor(
            broker,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-256",
            kafka_sasl_username=USER,
            kafka_sasl_password=PASSWORD,
        )
    (check,) = report.checks
    assert check.status == "ok" and check.info["encrypted"] is False
    assert ("SCRAM-SHA-256", USER) in broker.authenticated


def test_ssl_without_sasl(certs):
    with FakeKafkaBroker(tls_context(certs.server.cert, certs.server.key)) as broker:
        report = doctor(broker, kafka_security_protocol="SSL", kafka_ssl_ca=str(certs.ca))
    assert [c.status for c in report.checks] == ["ok", "ok"]
    assert report.checks[0].info["encrypted"] is True


@pytest.mark.parametrize(
    ("pair", "words"),
    [("expired", "expired"), ("wrong_host", "not for 127.0.0.1")],
)
def test_certificate_the_client_would_refuse(certs, pair, words):
    chain = getattr(certs, pair)
    with FakeKafkaBroker(tls_context(chain.cert, chain.key), USERS) as broker:
        report = doctor(broker, **sasl_ssl(certs.ca))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert words in check.detail
    assert not broker.authenticated and not broker.rejected  # no credentials were sent


def test_unknown_ca_names_kafka_ssl_ca(certs):
    with FakeKafkaBroker(tls_context(certs.server.cert, certs.server.key)) as broker:
        report = doctor(broker, kafka_security_protocol="SSL", kafka_ssl_ca=str(certs.other_ca))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "KAFKA_SSL_CA" in check.hint


def test_certificate_expiring_soon_is_a_warning(certs):
    with FakeKafkaBroker(tls_context(certs.expiring.cert, certs.expiring.key)) as broker:
        report = doctor(broker, kafka_security_protocol="SSL", kafka_ssl_ca=str(certs.ca))
    main, tls = report.checks
    assert main.status == "ok"
    assert (tls.status, tls.reason) == ("warning", "tls_expiring")


def test_ssl_against_a_plaintext_broker_is_one_line_within_the_timeout(certs):
    with FakeKafkaBroker() as broker:
        started = time.monotonic()
        report = doctor(
            broker, timeout=1.0, kafka_security_protocol="SSL", kafka_ssl_ca=str(certs.ca)
        )
        elapsed = time.monotonic() - started
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in check.hint
    assert elapsed < 1.5


@pytest.mark.parametrize("listener", ["sasl", "tls"])
def test_plaintext_client_against_a_secured_listener_names_the_protocol(certs, listener):
    tls = tls_context(certs.server.cert, certs.server.key) if listener == "tls" else None
    with FakeKafkaBroker(tls, USERS if listener == "sasl" else None) as broker:
        report = doctor(broker, timeout=1.0)
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "timeout")
    assert "the broker closed the connection at each attempt" in check.detail
    assert check.hint.startswith("check KAFKA_SECURITY_PROTOCOL against the broker's listener")
