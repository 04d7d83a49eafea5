"""The local runtime under faults: stale pid files naming strangers, a killed first `up`,
concurrent commands, file permissions, a killed server, unusable files. Every command runs as
its own process, as a user's would, so a traceback or a killed `up` is real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from helpers import free_port, settings_env

from macroinfra.runtime.local.processes import alive, processes_in
from macroinfra.settings import Settings, load_settings

MACROINFRA = str(Path(sys.executable).parent / "macroinfra")
ROOT = os.geteuid() == 0


@pytest.fixture
def stack() -> Iterator[Settings]:
    """Settings of a stack of this test's own, not started, in a private (0700) state folder."""
    from macroinfra.runtime.local import LocalRuntime

    state = Path(tempfile.mkdtemp(prefix="macroinfra-faults-", dir="/tmp"))
    settings = load_settings(
        postgres_port=free_port(),
        redis_port=free_port(),
        state_dir=state,
        postgres_password=f"pw-{state.name}",
        redis_password="redis pw",
        runtime="local",
    )
    try:
        yield settings
    finally:
        if state.is_dir():
            LocalRuntime(settings).down(volumes=True)
        shutil.rmtree(state, ignore_errors=True)


def env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings_env(settings), "NO_COLOR": "1"}


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [MACROINFRA, *args]
    return subprocess.run(argv, env=env(settings), capture_output=True, text=True, timeout=180)


def spawn(settings: Settings, *args: str) -> subprocess.Popen[str]:
    argv = [MACROINFRA, *args]
    return subprocess.Popen(
        argv, env=env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def services(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, result.stderr  # progress lines and a hint may surround it
    return errors[0]


def postgres_is_healthy(settings: Settings) -> None:
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_preload_libraries", "listen_addresses", "unix_socket_directories")
        }
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    assert "timescaledb" in shown["shared_preload_libraries"]
    assert shown["listen_addresses"] == "127.0.0.1"
    assert shown["unix_socket_directories"] == ""


# -- 1. a pid file names the process it names; only our own is ours ----------------------------


def test_a_stale_redis_pid_file_naming_another_redis_never_touches_it(stack, tmp_path):
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    stranger = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        wait_for(lambda: _pings(client), "the stranger redis-server")
        Path(stack.state_dir).joinpath("redis.pid").write_text(f"{stranger.pid}\n")
        stale_pid_file_spares(stack, "redis", stranger)
        assert client.ping()
    finally:
        client.close()
        stranger.terminate()
        stranger.wait(timeout=30)


def test_a_stale_postmaster_pid_naming_a_postgres_process_never_touches_it(stack):
    assert run(stack, "up", "timescaledb").returncode == 0
    assert run(stack, "down").returncode == 0
    # A process of the postgres user whose command line says "postgres", but not ours.
    as_postgres: dict[str, Any] = {"user": "postgres", "group": "postgres"} if ROOT else {}
    stranger = subprocess.Popen(
        ["postgres-stranger", "600"], executable=shutil.which("sleep"), **as_postgres
    )
    try:
        data = Path(stack.state_dir) / "postgres"
        pidfile = data / "postmaster.pid"
        port = stack.postgres_port
        pidfile.write_text(f"{stranger.pid}\n{data}\n{int(time.time())}\n{port}\n\n127.0.0.1\n")
        if ROOT:
            shutil.chown(pidfile, "postgres", "postgres")
        stale_pid_file_spares(stack, "timescaledb", stranger)
        postgres_is_healthy(stack)
    finally:
        stranger.kill()
        stranger.wait()


def stale_pid_file_spares(stack: Settings, service: str, stranger: subprocess.Popen) -> None:
    """`ps` calls the service's pid file stale, `down` leaves the stranger it names alone, and
    `up` starts our own server."""
    state = services(run(stack, "ps", "--json"))[service]
    assert state["state"] == "stopped"
    assert f"names pid {stranger.pid}, not ours" in state["detail"]

    down = run(stack, "down", "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] == []
    assert stranger.poll() is None

    up = run(stack, "up", service, "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["started"] == [service]
    assert services(run(stack, "ps", "--json"))[service]["detail"] != f"pid {stranger.pid}"
    assert stranger.poll() is None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


# -- 2. a first `up` killed during initdb ------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_up_killed_during_initdb_leaves_no_password_and_the_next_is_healthy(stack, how):
    state = Path(stack.state_dir)
    first = spawn(stack, "up", "timescaledb")
    try:
        wait_for(lambda: any(state.glob("**/PG_VERSION")), "initdb to begin")
    finally:
        first.send_signal(how)
        first.communicate(timeout=60)
    assert first.returncode != 0  # killed before it finished

    again = run(stack, "up", "timescaledb")
    assert again.returncode == 0, again.stderr
    postgres_is_healthy(stack)
    assert not (state / ".pwfile").exists()
    assert not list(state.glob(".postgres-init-*"))
    password = stack.postgres_password.get_secret_value().encode()
    holding = [p for p in state.rglob("*") if p.is_file() and password in p.read_bytes()]
    assert holding == []


def test_what_an_interrupted_first_start_left_goes_with_down_volumes_and_with_up(stack):
    state = Path(stack.state_dir)
    for command in (["down", "--volumes", "--yes"], ["up", "timescaledb"]):
        (state / ".pwfile").write_text("a password, as an earlier version left it\n")
        (state / ".postgres-init-x" / "data").mkdir(parents=True)
        result = run(stack, *command)
        assert result.returncode == 0, result.stderr
        assert not (state / ".pwfile").exists() and not (state / ".postgres-init-x").exists()


def test_a_cluster_without_macroinfra_settings_is_not_started(stack):
    assert run(stack, "up", "timescaledb").returncode == 0
    assert run(stack, "down").returncode == 0
    conf = Path(stack.state_dir) / "postgres" / "postgresql.conf"
    text = conf.read_text()
    conf.write_text(text[: text.index("# macroinfra local runtime")])
    line = one_error_line(run(stack, "up", "timescaledb"))
    assert "lacks macroinfra's settings" in line
    assert services(run(stack, "ps", "--json"))["timescaledb"]["state"] == "stopped"


def test_a_setting_overridden_after_start_is_reported(stack):
    assert run(stack, "up", "timescaledb").returncode == 0
    with psycopg.connect(stack.libpq_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    assert run(stack, "restart", "timescaledb").returncode == 1
    line = one_error_line(run(stack, "up", "timescaledb"))
    assert "shared_preload_libraries is 'pg_stat_statements', not 'timescaledb'" in line


# -- 3. one `up`, `down` or `restart` at a time -------------------------------------------------


def test_concurrent_cold_ups_all_succeed_with_one_stack(stack):
    ups = [spawn(stack, "up", "--json") for _ in range(3)]
    outputs = [up.communicate(timeout=180) for up in ups]
    assert [up.returncode for up in ups] == [0, 0, 0], [err for _, err in outputs]
    started = [json.loads(out)["started"] for out, _ in outputs]
    assert sorted(started) == [[], [], ["timescaledb", "redis"]]

    state = Path(stack.state_dir)
    assert len(processes_in(state / "redis", "redis-server")) == 1
    postmaster = int((state / "postgres" / "postmaster.pid").read_text().split()[0])
    assert alive(postmaster)
    postgres_is_healthy(stack)


# -- 4. everything the runtime owns is private ---------------------------------------------------


def test_everything_under_the_state_folder_is_private(stack):
    state = Path(stack.state_dir)
    assert state.stat().st_mode & 0o777 == 0o700
    (state / "redis").mkdir(mode=0o755)
    (state / "redis").chmod(0o755)
    for name in ("redis.conf", "redis.log"):
        (state / name).write_text("")
        (state / name).chmod(0o644)

    assert run(stack, "up").returncode == 0
    client = redis.Redis.from_url(stack.redis_connection_url)
    client.set("key", "value")
    client.save()  # writes the snapshot
    client.close()
    with psycopg.connect(stack.libpq_url) as conn:
        conn.execute("CREATE TABLE t (v int)")

    wide = [
        f"{p} {p.stat().st_mode & 0o777:o}"
        for p in state.rglob("*")
        if not p.is_symlink() and p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)
    ]
    assert wide == []
    mode = state.stat().st_mode & 0o777
    # As root, the postgres user may pass through (its group, --x), and nobody else.
    assert mode == 0o710 if ROOT else 0o700
    assert (state / "redis" / "dump.rdb").exists()


# -- 5. a killed server, files the runtime cannot use ---------------------------------------------


def test_up_right_after_the_postmaster_is_killed_starts_it_again(stack):
    assert run(stack, "up", "timescaledb").returncode == 0
    pidfile = Path(stack.state_dir) / "postgres" / "postmaster.pid"
    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
    up = run(stack, "up", "timescaledb")
    assert up.returncode == 0, up.stderr
    postgres_is_healthy(stack)


@pytest.mark.skipif(not ROOT, reason="only root can give the data folder to another user")
def test_a_data_folder_postgres_cannot_open_shows_the_real_cause(stack):
    assert run(stack, "up", "timescaledb").returncode == 0
    assert run(stack, "down").returncode == 0
    data = Path(stack.state_dir) / "postgres"
    subprocess.run(["chown", "-R", "root:root", str(data)], check=True)
    try:
        line = one_error_line(run(stack, "up", "timescaledb"))
    finally:
        subprocess.run(["chown", "-R", "postgres:postgres", str(data)], check=True)
    assert "Permission denied" in line
    assert "shut down" not in line  # the log's last line, from the run before


@pytest.mark.skipif(not ROOT or not shutil.which("unshare"), reason="needs root and unshare")
def test_a_state_folder_on_a_read_only_filesystem_is_one_line(stack):
    state = str(stack.state_dir)
    script = 'mount -t tmpfs -o size=4m tmpfs "$1" && mount -o remount,ro "$1" && exec "$2" up'
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", state, MACROINFRA],
        env=env(stack),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"the state folder {state} is on a read-only filesystem" in one_error_line(result)


def test_a_redis_conf_that_is_a_folder_stops_up_before_anything_starts(stack):
    (Path(stack.state_dir) / "redis.conf").mkdir()
    line = one_error_line(run(stack, "up"))
    assert "redis.conf" in line and "Is a directory" in line
    assert services(run(stack, "ps", "--json"))["timescaledb"]["state"] == "stopped"
    assert not (Path(stack.state_dir) / "postgres").exists()
