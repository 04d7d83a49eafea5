"""`doctor --strict`: a service that is not on this machine must be reached over TLS. The
remote cases are judged from the probes' findings (no traffic leaves 127.0.0.1)."""

from __future__ import annotations

import json

from helpers import Cli

from macroinfra.connections.tls import is_loopback
from macroinfra.probes.result import Check, Status
from macroinfra.probes.strict import plaintext_checks
from macroinfra.settings import load_settings


def found(service: str, encrypted: bool | None) -> Check:
    info = {} if encrypted is None else {"encrypted": encrypted}
    return Check(service, service, Status.OK, "answered", info=info)


def test_a_remote_service_without_tls_fails_with_the_settings_to_set():
    settings = load_settings(
        None, postgres_host="db.internal.invalid", redis_host="cache.internal.invalid"
    )
    out = plaintext_checks(settings, [found("timescaledb", False), found("redis", False)])
    assert [(c.name, c.status, c.reason) for c in out] == [
        ("timescaledb: encryption", Status.FAILED, "plaintext"),
        ("redis: encryption", Status.FAILED, "plaintext"),
    ]
    assert "db.internal.invalid is reached without TLS" in out[0].detail
    assert out[0].hint.startswith("set POSTGRES_SSLMODE=verify-full")
    assert "REDIS_TLS=on" in out[1].hint


def test_a_remote_service_over_tls_or_one_on_this_machine_passes():
    remote = load_settings(None, postgres_host="db.internal.invalid")
    assert plaintext_checks(remote, [found("timescaledb", True)]) == []
    assert plaintext_checks(remote, [found("timescaledb", None)]) == []  # not said: not judged
    local = load_settings(None)
    assert plaintext_checks(local, [found("timescaledb", False), found("redis", False)]) == []


def test_the_rule_reads_every_service_host():
    settings = load_settings(
        None,
        mongo_host="mongo.internal.invalid",
        minio_endpoint="[::1]:9000",
        kafka_bootstrap_servers="127.0.0.1:9092,kafka.internal.invalid:9093",
    )
    checks = [found("mongodb", False), found("minio", False), found("kafka", False)]
    names = [c.name for c in plaintext_checks(settings, checks)]
    assert names == ["mongodb: encryption", "kafka: encryption"]


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["db.internal.invalid", "::2"]))


def test_strict_doctor_over_the_tls_stack_finds_no_plaintext(tls_stack):
    result = Cli(tls_stack)("doctor", "--strict", "--json")
    checks = json.loads(result.stdout)["checks"]
    assert not [c for c in checks if c["reason"] == "plaintext"]
    tls = {c["name"]: c for c in checks if c["name"].endswith(": tls")}
    assert set(tls) == {"timescaledb: tls", "redis: tls"}
    assert all(c["status"] == "ok" for c in tls.values())
