"""`auto` decides once: `up` records the runtime that owns the stack, later commands keep to
it (even when a Docker engine starts answering meanwhile), and `down` ends the record."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from helpers import Cli, own_local_stack

from macroinfra.errors import OperationError
from macroinfra.runtime import owner, select_runtime
from macroinfra.settings import Settings, load_settings


class DockerPingResponder:
    """Test double of a Docker engine's API that answers only `GET /_ping` with 200: enough
    for `auto` to believe an engine runs. Nothing here can be created through it."""

    def __enter__(self) -> DockerPingResponder:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200 if self.path == "/_ping" else 404)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"tcp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auto_stack() -> Iterator[Settings]:
    """Settings of a stack of this test's own under `auto` (not started), ended afterwards."""
    with own_local_stack(runtime="auto") as settings:
        yield settings


def test_a_local_stack_keeps_its_runtime_when_an_engine_starts_answering(auto_stack, monkeypatch):
    cli = Cli(auto_stack)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no engine at first
    up = cli("up", "redis", "--json", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)["runtime"] == "local"
    assert owner.recorded_owner(auto_stack) == "local"
    with DockerPingResponder() as engine:
        monkeypatch.setenv("DOCKER_HOST", engine.host)
        ps = cli("ps", "--json", env={"DOCKER_HOST": engine.host})
        doc = json.loads(ps.stdout)
        assert doc["runtime"] == "local"
        assert "started under it" in doc["selected_because"]
        assert {s["name"]: s["state"] for s in doc["services"]}["redis"] == "running"
        assert select_runtime(auto_stack).runtime.name == "local"
        down = cli("down", "--json", env={"DOCKER_HOST": engine.host})
        assert down.exit_code == 0 and json.loads(down.stdout)["runtime"] == "local"
        assert owner.recorded_owner(auto_stack) is None
        # The stack is ended: auto decides afresh, and now an engine answers.
        assert select_runtime(auto_stack).runtime.name == "compose"


def test_up_under_another_runtime_than_the_owner_is_refused(auto_stack):
    assert owner.record(auto_stack, "local") is None
    result = Cli(auto_stack)("up", "--runtime", "compose")
    assert result.exit_code == 1
    assert "the stack was started under the local runtime, not compose" in result.stderr
    assert "macroinfra down --runtime local" in result.stderr
    with pytest.raises(OperationError):
        owner.claim(auto_stack, "compose")
    owner.claim(auto_stack, "local")  # the owner itself may come up again
    owner.claim(auto_stack, "external")  # and nothing is started under external


@pytest.mark.parametrize("text", ["", "{", '{"runtime": "external"}', '{"runtime": 3}', "[]"])
def test_an_unreadable_record_is_no_owner(auto_stack, text):
    owner.owner_path(auto_stack).write_text(text)
    assert owner.recorded_owner(auto_stack) is None


def test_a_record_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = load_settings(state_dir=blocker / "state")  # a folder under a file: ENOTDIR
    warning = owner.record(settings, "local")
    assert warning is not None and "pass --runtime local" in warning


def test_the_record_is_private(auto_stack):
    owner.record(auto_stack, "compose")
    path = owner.owner_path(auto_stack)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text()) == {"runtime": "compose"}
    owner.forget(auto_stack, "local")  # another runtime's down leaves it
    assert path.exists()
    owner.forget(auto_stack, "compose")
    assert not path.exists()
