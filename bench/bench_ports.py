"""Compose runtime speed: the port pre-flight, and how soon `up` returns once the last service
is healthy.

    .venv/bin/python bench/bench_ports.py [--runs 500] [--trials 20]

1. Port pre-flight: the compose runtime's `port_claims` + `ensure_ports_free` for every port
   the stack publishes (five, with the `full` profile), on free ports and with one taken.
   Budget: 50 ms. Real sockets on 127.0.0.1.
2. `up` lag: the time from the moment the last service turns healthy to `up` returning. There is
   no Docker engine here, so this runs the compose runtime's real wait loop against a stand-in
   client of its own (`StandInDocker`, below): Redis reports healthy from a random moment on,
   the others are ready from the start, and each call is given a fixed cost standing in for
   the `docker` processes a real poll runs (one `compose ps`, then one `inspect` per container
   side by side: on the order of 100 ms; 300 ms is a slow machine).
   Budget: 1 s. Not measured: what a real engine adds per call (API round trips and one
   `docker inspect` per container), and Docker's own healthcheck interval, which decides when
   a service turns healthy in the first place.
3. For scale, the real cost of one `docker compose ps` on this machine up to the point where it
   finds no engine (process start and compose file parsing): a lower bound of a real poll.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from macroinfra.errors import OperationError
from macroinfra.runtime.compose import POLL_S, ComposeRuntime, compose_file
from macroinfra.runtime.ports import ensure_ports_free
from macroinfra.services import SERVICES
from macroinfra.settings import Settings, load_settings


def container(service: str, status: str = "running", health: str | None = "healthy") -> Any:
    """A container as python-on-whales hands it out, reduced to what the runtime reads."""
    return SimpleNamespace(
        state=SimpleNamespace(
            status=status,
            exit_code=0,
            health=None if health is None else SimpleNamespace(status=health, log=[]),
        ),
        config=SimpleNamespace(labels={"com.docker.compose.service": service}),
        network_settings=SimpleNamespace(ports={}),
    )


class StandInDocker:
    """The two calls `up` makes (`compose ps`, `compose up`), each costing `latency` seconds.
    Redis turns healthy at `redis_healthy_at` (a time.monotonic() value); the others, and
    MinIO's bucket creator, are done from the start."""

    def __init__(self, redis_healthy_at: float, latency: float) -> None:
        self.redis_healthy_at, self.latency = redis_healthy_at, latency
        self.compose = self
        self.ready = [container(s) for s in ("timescaledb", "mongodb", "minio")]
        self.ready.append(container("minio-init", "exited", None))

    def client(self, **_config: Any) -> StandInDocker:
        return self

    def ps(self, all: bool = False) -> list[Any]:
        time.sleep(self.latency)
        healthy = time.monotonic() >= self.redis_healthy_at
        return [*self.ready, container("redis", health="healthy" if healthy else "starting")]

    def up(self, _services: list[str] | None = None, **_options: Any) -> Iterator[Any]:
        time.sleep(self.latency)
        return iter(())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_settings() -> Settings:
    """Settings whose every published port is free."""
    ports: dict[str, object] = {}
    for name in ("postgres_port", "redis_port", "mongo_port"):
        ports[name] = free_port()
    for name in ("minio_endpoint", "kafka_bootstrap_servers"):
        ports[name] = f"127.0.0.1:{free_port()}"
    return load_settings(None, **ports)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (
        f"min {values[0] * 1e3:.3f}  median {statistics.median(values) * 1e3:.3f}  "
        f"p99 {p99 * 1e3:.3f}  max {values[-1] * 1e3:.3f} ms"
    )


def bench_preflight(runs: int) -> None:
    settings = stack_settings()
    runtime = ComposeRuntime(settings)
    free, taken = [], []
    for _ in range(runs):
        t = time.perf_counter()
        ensure_ports_free(runtime.port_claims(SERVICES))
        free.append(time.perf_counter() - t)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.redis_port))
        holder.listen()
        for _ in range(runs):
            t = time.perf_counter()
            try:
                ensure_ports_free(runtime.port_claims(SERVICES))
            except OperationError:
                pass
            taken.append(time.perf_counter() - t)
    print(f"port pre-flight, {len(SERVICES)} ports, {runs} runs (budget 50 ms)")
    print(f"  all free:      {ms(free)}")
    print(f"  one taken:     {ms(taken)}")


def bench_up_lag(trials: int, latency: float) -> list[float]:
    lags = []
    rng = random.Random(7)
    for _ in range(trials):
        healthy_at = time.monotonic() + rng.uniform(0.3, 1.3)
        docker = StandInDocker(healthy_at, latency)
        ComposeRuntime(stack_settings(), client_factory=docker.client).up(timeout=30)
        lags.append(time.monotonic() - healthy_at)
    return lags


def bench_docker_ps() -> None:
    folder = tempfile.mkdtemp(prefix="bench-docker-")
    env = {**os.environ, "DOCKER_HOST": f"unix://{folder}/docker.sock"}  # nothing listens
    argv = [
        "docker",
        "compose",
        "--file",
        str(compose_file()),
        "--project-name",
        "macroinfra",
        "--profile",
        "full",
        "ps",
        "--quiet",
        "--all",
    ]
    costs = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        costs.append(time.perf_counter() - t)
    os.rmdir(folder)
    print("one real `docker compose ps`, no engine (process start + file parse), 10 runs")
    print(f"  {ms(costs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()

    bench_preflight(args.runs)
    print()
    print(
        f"`up` lag after the last service turns healthy, {args.trials} trials each, "
        f"poll interval {POLL_S} s (budget 1 s; test double, see the docstring)"
    )
    for latency in (0.0, 0.1, 0.3):
        lags = bench_up_lag(args.trials, latency)
        print(f"  each poll costs {latency * 1e3:>3.0f} ms: {ms(lags)}")
    print()
    bench_docker_ps()


if __name__ == "__main__":
    main()
