"""The Kafka probe with kafka-python against: a responder speaking ApiVersions and Metadata, a
closed port, and a port that accepts and never answers."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import free_port
from responders import API_VERSIONS, METADATA, FakeKafkaBroker, SilentServer

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

# kafka-python reads its protocol schemas with importlib.resources' legacy API.
pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")


def probe(servers: str, timeout: float = 3.0):
    settings = load_settings(None, kafka_bootstrap_servers=servers)
    report = run_doctor(settings, ["kafka"], timeout=timeout, runtime="external")
    (check,) = report.checks
    return check


def test_metadata_names_the_brokers_and_the_controller():
    with FakeKafkaBroker() as broker:
        check = probe(f"127.0.0.1:{broker.port}")
    assert check.status == "ok", check
    assert (
        check.detail
        == f"1 broker, controller 1, cluster {FakeKafkaBroker.CLUSTER_ID}, not encrypted"
    )
    assert check.info["encrypted"] is False
    assert check.info["brokers"] == [f"127.0.0.1:{broker.port}"]
    assert check.info["controller_id"] == FakeKafkaBroker.NODE_ID
    keys = {key for key, _ in broker.requests}
    assert keys == {API_VERSIONS, METADATA}


def test_the_first_reachable_bootstrap_server_is_used():
    with FakeKafkaBroker() as broker:
        check = probe(f"127.0.0.1:{free_port()},127.0.0.1:{broker.port}")
    assert check.status == "ok", check


def test_closed_port_is_refused_at_once():
    started = time.monotonic()
    check = probe(f"127.0.0.1:{free_port()}", timeout=5.0)
    assert (check.status, check.reason) == ("failed", "refused")
    assert "--profile full" in check.hint
    assert time.monotonic() - started < 1.0


def test_silent_port_times_out_within_the_deadline():
    with SilentServer() as server:
        started = time.monotonic()
        check = probe(f"127.0.0.1:{server.port}", timeout=1.0)
        elapsed = time.monotonic() - started
    assert (check.status, check.reason) == ("failed", "timeout")
    assert elapsed < 1.5
    # The admin client failed inside its constructor; its IO thread was closed all the same.
    for thread in threading.enumerate():
        if thread.name.startswith("kafka-io-macroinfra-doctor"):
            thread.join(timeout=2)
            assert not thread.is_alive()
