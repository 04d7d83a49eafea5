"""The PostgreSQL connection layer under the timescaledb probe: one classifier of connection
failures (shared by `doctor`, `migrate` and the local runtime), and which pools `dispose` frees."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import psycopg
import pytest
from helpers import Cli, free_port
from pydantic import SecretStr

from macroinfra.db import ConnectionFailed, Database, connection_error
from macroinfra.errors import ServiceUnavailable
from macroinfra.probes import timescaledb
from macroinfra.probes.runner import Budget


def broken(settings, case: str):
    """The stack's settings, made to fail in one way."""
    change = {
        "auth": {"postgres_password": SecretStr("not-the-password")},
        "no_database": {"postgres_db": "no_such_database"},
        "refused": {"postgres_port": free_port()},
    }[case]
    return settings.model_copy(update=change)


def connect_error(settings) -> psycopg.Error:
    try:
        psycopg.connect(settings.libpq_url, connect_timeout=2).close()
    except psycopg.Error as exc:
        return exc
    raise AssertionError("the connection was accepted")


def classify(exc: BaseException, settings) -> ConnectionFailed:
    s = settings
    return connection_error(exc, s.postgres_host, s.postgres_port, s.postgres_user, s.postgres_db)


class ClosingServer:
    """Accepts a connection and closes it at once (a server that dies mid-handshake)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_each_real_failure_gets_its_reason(stack_settings):
    s = stack_settings
    cases = {case: broken(s, case) for case in ("auth", "no_database", "refused")}
    for reason, settings in cases.items():
        error = classify(connect_error(settings), settings)
        assert isinstance(error, ServiceUnavailable)
        assert error.reason == reason, error.message
        assert error.hint
    auth = classify(connect_error(cases["auth"]), cases["auth"])
    assert "rejected the credentials" in auth.message  # what `migrate` has always said
    assert auth.hint == "check POSTGRES_USER and POSTGRES_PASSWORD"
    refused = classify(connect_error(cases["refused"]), cases["refused"])
    assert "macroinfra up" in refused.hint

    # libpq says "connection failed: ... server closed the connection unexpectedly": not refused.
    server = ClosingServer()
    try:
        closing = s.model_copy(update={"postgres_port": server.port})
        other = classify(connect_error(closing), closing)
    finally:
        server.close()
    assert other.reason == "other"
    assert "server closed the connection unexpectedly" in other.message
    assert "macroinfra up" not in (other.hint or "")


def test_a_connect_timeout_in_database_url_gives_way_to_the_probes_own(stack_settings):
    """DATABASE_URL may carry libpq's connect_timeout; the probe bounds the connection by its
    own budget instead of failing on the argument given twice."""
    s = stack_settings
    url = s.libpq_url + ("&" if "?" in s.libpq_url else "?") + "connect_timeout=7"
    result = Cli(s)("doctor", "timescaledb", "--json", env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "timescaledb"]
    assert check["status"] in {"ok", "warning"} and check["detail"].startswith("PostgreSQL "), check


def test_a_timeout_is_classified_from_libpq_text():
    # libpq waits at least 2 s before it says so; its exact text is enough here.
    error = connection_error(
        psycopg.errors.ConnectionTimeout("connection timeout expired"), "127.0.0.1", 1, "u", "d"
    )
    assert error.reason == "timeout"
    assert error.message == "PostgreSQL at 127.0.0.1:1 did not answer in time"


@pytest.mark.parametrize("case", ["auth", "no_database", "refused"])
def test_the_probe_reports_what_the_classifier_says(stack_settings, case):
    settings = broken(stack_settings, case)
    expected = classify(connect_error(settings), settings)
    (check,) = timescaledb.probe(settings, Budget(time.monotonic() + 5))
    assert (check.status, check.reason) == ("failed", case)
    assert (check.detail, check.hint) == (expected.message, expected.hint)


def test_dispose_frees_the_sync_pool_and_adispose_both(stack_settings):
    db = Database(stack_settings)
    sync, async_ = db.engine, db.async_engine  # created, not connected
    db.dispose()
    assert "engine" not in db.__dict__
    assert db.__dict__.get("async_engine") is async_  # needs an event loop: left to adispose
    assert db.engine is not sync  # a new engine on next use
    asyncio.run(db.adispose())
    assert "engine" not in db.__dict__ and "async_engine" not in db.__dict__


# A bytes value rendered as text (b'...'); not a name that merely ends in b, like test_ascii_0b.
BYTES_REPR = re.compile(r"\bb'")


def test_a_database_that_is_not_utf8_is_read_as_text_and_warned_about(sql_ascii):
    checks = list(timescaledb.probe(sql_ascii, Budget(time.monotonic() + 5)))
    server, encoding = checks
    assert server.detail.startswith("PostgreSQL 15") and not BYTES_REPR.search(server.detail)
    assert isinstance(server.info["server_version"], str)
    assert (encoding.name, encoding.status, encoding.reason) == (
        "timescaledb: encoding",
        "warning",
        "encoding",
    )
    assert encoding.detail == f"database {sql_ascii.postgres_db!r} is encoded SQL_ASCII, not UTF8"
    assert f"createdb -E UTF8 -T template0 {sql_ascii.postgres_db}" in encoding.hint
    assert "ENCODING 'UTF8' TEMPLATE template0" in encoding.hint


def test_a_utf8_database_gets_no_encoding_check(stack_settings):
    checks = list(timescaledb.probe(stack_settings, Budget(time.monotonic() + 5)))
    assert [c.name for c in checks] == ["timescaledb"]


def test_doctor_on_a_database_that_is_not_utf8(sql_ascii):
    import json

    from helpers import Cli

    result = Cli(sql_ascii)("doctor", "timescaledb", "--json")
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["checks"]] == ["timescaledb", "timescaledb: encoding"]
    assert not BYTES_REPR.search(report["checks"][0]["detail"])
    strict = Cli(sql_ascii)("doctor", "timescaledb", "--strict")
    assert strict.exit_code == 1 and "SQL_ASCII" in strict.stdout
