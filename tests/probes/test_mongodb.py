"""The MongoDB probe with pymongo against: a responder that runs SCRAM-SHA-256 for real, a
closed port, and a port that accepts and never answers."""

from __future__ import annotations

import time

from helpers import free_port
from responders import FakeMongoServer, SilentServer

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

USER, PASSWORD = "macro_user", "m0ngo%secret"


def probe(port: int, password: str = PASSWORD, timeout: float = 3.0):
    settings = load_settings(None, mongo_port=port, mongo_user=USER, mongo_password=password)
    report = run_doctor(settings, ["mongodb"], timeout=timeout, runtime="external")
    (check,) = report.checks
    return report, check


def test_authenticated_ping_and_version():
    with FakeMongoServer(USER, PASSWORD) as server:
        report, check = probe(server.port)
    assert report.ok and check.status == "ok"
    assert (
        check.detail
        == f"MongoDB {FakeMongoServer.VERSION} (authenticated as {USER}), not encrypted"
    )
    assert check.info["encrypted"] is False
    assert check.info["version"] == FakeMongoServer.VERSION
    # The ping ran on a connection that had completed the SCRAM exchange.
    assert ("saslcontinue", False) in server.commands
    assert ("ping", True) in server.commands


def test_wrong_password_is_an_authentication_failure():
    with FakeMongoServer(USER, PASSWORD) as server:
        report, check = probe(server.port, password="not-the-password")
    assert not report.ok
    assert (check.status, check.reason) == ("failed", "auth")
    assert check.hint == "check MONGO_USER, MONGO_PASSWORD and MONGO_AUTH_SOURCE (or MONGO_URL)"
    assert ("ping", True) not in server.commands
    assert "not-the-password" not in repr(report)


def test_closed_port_is_refused_at_once():
    started = time.monotonic()
    _, check = probe(free_port(), timeout=5.0)
    assert (check.status, check.reason) == ("failed", "refused")
    assert time.monotonic() - started < 1.0  # pymongo alone would retry for the whole timeout


def test_silent_port_times_out_within_the_deadline():
    with SilentServer() as server:
        started = time.monotonic()
        report, check = probe(server.port, timeout=1.0)
        elapsed = time.monotonic() - started
        assert server.connections
    assert (check.status, check.reason) == ("failed", "timeout")
    assert elapsed < 1.5 and report.elapsed_ms < 1500
