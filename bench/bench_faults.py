"""Fault injection for the local runtime, repeated: how often it comes through.

- a first `up` killed (SIGKILL, then SIGTERM, in turn) once initdb has begun: is the next `up`
  healthy (TimescaleDB preloaded, 127.0.0.1 only, no Unix socket), and is no file left that
  holds the password?
- three cold `up`s at once: do all exit 0, with one stack?
- a stale pid file naming a stranger (a Redis of its own, a `postgres` process): does `ps`
  call it stale, does the stranger survive `down`, does `up` start ours?

Every trial has a state folder and ports of its own, and stops what it started.
Run: .venv/bin/python bench/bench_faults.py [--killed 10] [--concurrent 9] [--stale 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import VENV_BIN, free_port

MACROINFRA = str(VENV_BIN / "macroinfra")
ROOT = os.geteuid() == 0


class Stack:
    """A stack in a state folder of its own, driven through the CLI as separate processes."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="macroinfra-faults-", dir="/tmp"))
        self.password = f"pw-{self.state.name}"
        self.fields = {
            "postgres_port": free_port(),
            "redis_port": free_port(),
            "postgres_password": self.password,
            "redis_password": "redis pw",
            "state_dir": str(self.state),
            "runtime": "local",
        }
        self.env = {
            **os.environ,
            "POSTGRES_PORT": str(self.fields["postgres_port"]),
            "REDIS_PORT": str(self.fields["redis_port"]),
            "POSTGRES_PASSWORD": self.password,
            "REDIS_PASSWORD": "redis pw",
            "MACROINFRA_STATE_DIR": str(self.state),
            "MACROINFRA_RUNTIME": "local",
            "MACROINFRA_ENV_FILE": os.devnull,
            "NO_COLOR": "1",
        }

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [MACROINFRA, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [MACROINFRA, *args]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300)

    def states(self) -> dict[str, dict[str, str]]:
        return {s["name"]: s for s in json.loads(self.run("ps", "--json").stdout)["services"]}

    def postgres_healthy(self) -> bool:
        import psycopg

        from macroinfra.settings import load_settings

        url = load_settings(**self.fields).libpq_url
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                show = {
                    name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in (
                        "shared_preload_libraries",
                        "listen_addresses",
                        "unix_socket_directories",
                    )
                }
        except psycopg.Error:
            return False
        return (
            "timescaledb" in show["shared_preload_libraries"]
            and show["listen_addresses"] == "127.0.0.1"
            and show["unix_socket_directories"] == ""
        )

    def password_on_disk(self) -> bool:
        secret = self.password.encode()
        return any(p.is_file() and secret in p.read_bytes() for p in self.state.rglob("*"))

    def close(self) -> None:
        from macroinfra.runtime.local import LocalRuntime
        from macroinfra.settings import load_settings

        LocalRuntime(load_settings(**self.fields)).down(volumes=True)
        shutil.rmtree(self.state, ignore_errors=True)


@contextmanager
def stack() -> Iterator[Stack]:
    s = Stack()
    try:
        yield s
    finally:
        s.close()


def wait_for(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- the faults --------------------------------------------------------------------------------


def killed_during_initdb(how: signal.Signals) -> tuple[bool, bool, bool]:
    """(killed during initdb, next `up` healthy, no password left on disk)."""
    with stack() as s:
        first = s.spawn("up", "timescaledb")
        began = wait_for(lambda: any(s.state.glob("**/PG_VERSION")) or first.poll() is not None)
        during = began and first.poll() is None
        first.send_signal(how)
        first.communicate(timeout=60)
        healthy = s.run("up", "timescaledb").returncode == 0 and s.postgres_healthy()
        clean = not (s.state / ".pwfile").exists() and not s.password_on_disk()
        return during, healthy, clean


def concurrent_cold_ups() -> bool:
    """All three exit 0, one of them started the stack, and both servers run."""
    with stack() as s:
        ups = [s.spawn("up", "--json") for _ in range(3)]
        outs = [up.communicate(timeout=300)[0] for up in ups]
        if any(up.returncode != 0 for up in ups):
            return False
        starters = [json.loads(out)["started"] for out in outs]
        running = {name: st["state"] for name, st in s.states().items()}
        return (
            sorted(starters) == [[], [], ["timescaledb", "redis"]]
            and running["timescaledb"] == running["redis"] == "running"
            and s.postgres_healthy()
        )


def stale_pid_spares(service: str) -> bool:
    """`ps` says stale, the stranger survives `down`, and `up` starts ours beside it."""
    with stack() as s, stranger_for(service, s) as stranger:
        stale = "not ours" in (s.states()[service].get("detail") or "")
        down = s.run("down", "--json")
        spared = down.returncode == 0 and json.loads(down.stdout)["stopped"] == []
        spared = spared and stranger.poll() is None
        up = s.run("up", service, "--json")
        started = up.returncode == 0 and json.loads(up.stdout)["started"] == [service]
        return stale and spared and started and stranger.poll() is None


@contextmanager
def stranger_for(service: str, s: Stack) -> Iterator[subprocess.Popen[bytes]]:
    """A process not ours, in a folder of its own, named by the service's pid file."""
    if service == "timescaledb":  # the cluster must exist for its pid file to be read
        assert s.run("up", "timescaledb").returncode == 0 and s.run("down").returncode == 0
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-stranger-", dir="/tmp"))
    if service == "redis":
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        proc = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL)
        pidfile, text = s.state / "redis.pid", f"{proc.pid}\n"
    else:  # a process of the postgres user whose command line says "postgres"
        as_postgres = {"user": "postgres", "group": "postgres"} if ROOT else {}
        argv = ["postgres-stranger", "600"]
        proc = subprocess.Popen(argv, executable=shutil.which("sleep"), cwd=folder, **as_postgres)
        pidfile = s.state / "postgres" / "postmaster.pid"
        text = f"{proc.pid}\n{pidfile.parent}\n0\n{s.fields['postgres_port']}\n"
    try:
        if service == "redis":
            assert wait_for(lambda: answers(port)), "the stranger Redis did not start"
        pidfile.write_text(text)
        if ROOT and service == "timescaledb":
            shutil.chown(pidfile, "postgres", "postgres")
        yield proc
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def answers(port: int) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--killed", type=int, default=10, help="trials of a killed first up")
    parser.add_argument("--concurrent", type=int, default=9, help="trials of 3 cold ups")
    parser.add_argument("--stale", type=int, default=3, help="trials per service of a stranger")
    args = parser.parse_args()

    start = time.perf_counter()
    kills = [signal.SIGKILL, signal.SIGTERM]
    results = [killed_during_initdb(kills[i % 2]) for i in range(args.killed)]
    during, healthy, clean = (sum(r[i] for r in results) for i in range(3))
    n = args.killed
    print(
        f"killed up during initdb (SIGKILL/SIGTERM in turn): killed during initdb {during}/{n}, "
        f"next up healthy {healthy}/{n}, no password file {clean}/{n} "
        f"({time.perf_counter() - start:.0f} s)"
    )

    start = time.perf_counter()
    ok = sum(concurrent_cold_ups() for _ in range(args.concurrent))
    print(
        f"3 concurrent cold ups: all exit 0 with one stack {ok}/{args.concurrent} "
        f"({time.perf_counter() - start:.0f} s)"
    )

    for service in ("redis", "timescaledb"):
        start = time.perf_counter()
        ok = sum(stale_pid_spares(service) for _ in range(args.stale))
        print(
            f"stale {service} pid file naming a stranger: stale in ps, stranger survives down, "
            f"ours starts {ok}/{args.stale} ({time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
