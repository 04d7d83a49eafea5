"""What each runtime says about itself: which services it runs, why it skips the others, which
ports it takes."""

from __future__ import annotations

import pytest
from helpers import free_port

from macroinfra.errors import ConfigError
from macroinfra.runtime import select_runtime
from macroinfra.services import SERVICES
from macroinfra.settings import load_settings


def runtime(name: str, **settings: object):
    return select_runtime(load_settings(None, **settings), name).runtime


def test_skip_reasons_name_the_runtime_and_the_profile():
    assert runtime("local").skip_reason("mongodb") == "not provided by the local runtime"
    compose = runtime("compose")
    assert (
        compose.skip_reason("kafka")
        == "not provided: the compose runtime runs it only with --profile full"
    )
    assert compose.provided(["full"]) == SERVICES


def test_port_claims_name_the_setting_that_moves_each_port():
    ports = {"postgres_port": free_port(), "redis_port": free_port(), "mongo_port": free_port()}
    local = runtime("local", **ports).port_claims(["timescaledb", "redis"])
    assert [(c.service, c.setting, c.host, c.port) for c in local] == [
        ("timescaledb", "POSTGRES_PORT", "127.0.0.1", ports["postgres_port"]),
        ("redis", "REDIS_PORT", "127.0.0.1", ports["redis_port"]),
    ]
    compose = runtime("compose", **ports, minio_endpoint="127.0.0.2:19000")
    claims = {c.service: (c.setting, c.host, c.port) for c in compose.port_claims(SERVICES)}
    assert claims["mongodb"] == ("MONGO_PORT", "127.0.0.1", ports["mongo_port"])
    assert claims["minio"] == ("MINIO_ENDPOINT", "127.0.0.2", 19000)
    assert claims["kafka"] == ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1", 9092)
    assert runtime("external").port_claims(SERVICES) == []


def test_compose_claims_need_one_ip_and_port_for_an_endpoint():
    compose = runtime("compose", minio_endpoint="minio.internal:9000")
    with pytest.raises(ConfigError) as caught:
        compose.port_claims(["minio"])
    assert caught.value.message == "MINIO_ENDPOINT must be ip:port, not 'minio.internal:9000'"
    assert caught.value.hint.endswith("one ip:port, e.g. 127.0.0.1:9000")


def test_the_local_runtime_refuses_claims_for_services_it_does_not_run():
    with pytest.raises(KeyError):
        runtime("local").port_claims(["mongodb"])
