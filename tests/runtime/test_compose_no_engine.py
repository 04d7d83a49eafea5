"""The compose runtime against the real docker client and python-on-whales, on machines with no
Docker engine: every way Docker can be missing is one line and exit 1, never a traceback, and
python-on-whales' exception text (it holds the whole command line) is never shown."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import error_lines

from macroinfra.errors import ServiceUnavailable
from macroinfra.runtime.compose import ComposeRuntime, compose_file
from macroinfra.settings import load_settings

PLUGIN_DIRS = [
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
]
root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: runs docker as another user / in a mount namespace"
)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder under /tmp that any user may enter (pytest's tmp_path is closed to others)."""
    path = Path(tempfile.mkdtemp(prefix="macroinfra-docker-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_engine(open_dir: Path) -> dict[str, str]:
    """DOCKER_HOST pointing at a socket path nothing listens on: fails at once, no network."""
    return {
        "DOCKER_HOST": f"unix://{open_dir}/docker.sock",
        "MACROINFRA_STATE_DIR": str(open_dir / "state"),
    }


def assert_one_clear_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = error_lines(result.output)
    assert lines[0] == f"error: {message}" and lines[1].startswith("hint: "), result.output
    assert len(lines) == 2, result.output
    for leak in ("Traceback", "--project-name", "docker-compose.yml", "The command executed"):
        assert leak not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["up"],
        ["up", "--profile", "full", "--no-wait"],
        ["down"],
        ["down", "--volumes", "--yes"],
        ["ps"],
        ["logs", "redis"],
        ["restart"],
        ["status"],
    ],
    ids=lambda a: " ".join(a),
)
def test_no_engine_is_one_line_and_exit_1(cli, no_engine, args):
    result = cli(*args, "--runtime", "compose", env=no_engine)
    assert_one_clear_error(result, f"no Docker engine answers at {no_engine['DOCKER_HOST']}")


def test_auto_picks_local_when_no_engine_answers_and_says_so(cli, no_engine):
    result = cli("ps", "--json", env=no_engine)
    assert result.exit_code == 0, result.output
    assert "runtime local (auto: no Docker engine answers, using local processes)" in result.stderr
    assert '"runtime": "local"' in result.stdout


@root_only
def test_permission_denied_on_the_socket(open_dir):
    """The real docker client, run as `nobody`, against a socket only root may open."""
    from python_on_whales import DockerClient

    sock_path = open_dir / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen()
    sock_path.chmod(0o600)
    env = {"DOCKER_HOST": f"unix://{sock_path}", "HOME": str(open_dir)}
    as_nobody = [
        "runuser",
        "-u",
        "nobody",
        "--",
        "env",
        *(f"{k}={v}" for k, v in env.items()),
        "docker",
    ]

    def client(**config):
        return DockerClient(client_call=as_nobody, **config)

    runtime = ComposeRuntime(load_settings(None), client_factory=client)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            runtime.ps()
    finally:
        server.close()
    assert caught.value.message == f"permission denied on the Docker socket unix://{sock_path}"
    assert "`docker` group" in caught.value.hint


@root_only
def test_missing_compose_plugin(open_dir):
    """The CLI in a mount namespace where every Compose plugin folder is empty."""
    hide = " && ".join(f"mount -t tmpfs none {d}" for d in PLUGIN_DIRS if Path(d).is_dir())
    cli = f"{sys.executable} -c 'from macroinfra.cli import main; main()' ps --runtime compose"
    env = {**os.environ, "DOCKER_HOST": f"unix://{open_dir}/docker.sock", "HOME": str(open_dir)}
    assert hide, "no Compose plugin folder on this machine"
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{hide} && exec {cli}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=open_dir,
    )
    assert result.returncode == 1, result.stderr
    lines = error_lines(result.stderr)
    assert lines[0] == (
        "error: the Docker Compose v2 plugin is not installed (`docker compose` does not exist)"
    ), result.stderr
    assert lines[1].startswith("hint: install Docker's Compose plugin") and len(lines) == 2
    assert str(compose_file()) not in result.stderr


def test_no_docker_client_on_path_is_one_line(cli, no_engine):
    result = cli("ps", "--runtime", "compose", env={**no_engine, "PATH": "/nonexistent"})
    assert_one_clear_error(result, "no `docker` command on PATH")
