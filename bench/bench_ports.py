"""Compose runtime speed: the port pre-flight, and how soon `up` returns once the last service
is healthy.

    .venv/bin/python bench/bench_ports.py [--runs 500] [--trials 20]

1. Port pre-flight: the compose runtime's `port_claims` + `ensure_ports_free` for every port
   the stack publishes (five, with the `full` profile), on free ports and with one taken.
   Budget: 50 ms. Real sockets on 127.0.0.1.
2. `up` lag: the time from the moment the last service turns healthy to `up` returning. There is
   no Docker engine here, so this runs the compose runtime's real wait loop against
   tests/compose_double.py's RecordingDockerClient: the service reports healthy from a random
   moment on, and each poll is given a fixed cost standing in for the `docker` processes a
   real poll runs (one `compose ps`, then one `inspect` per container side by side: on the
   order of 100 ms; 300 ms is a slow machine).
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
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from compose_double import FakeEngine, inspect_json  # noqa: E402

from macroinfra.errors import OperationError  # noqa: E402
from macroinfra.runtime.base import SERVICES  # noqa: E402
from macroinfra.runtime.compose import POLL_S, ComposeRuntime, compose_file  # noqa: E402
from macroinfra.runtime.ports import ensure_ports_free  # noqa: E402
from macroinfra.settings import Settings, load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_settings() -> Settings:
    return load_settings(
        None,
        postgres_port=free_port(),
        redis_port=free_port(),
        mongo_port=free_port(),
        minio_endpoint=f"127.0.0.1:{free_port()}",
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
    )


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
        settings = stack_settings()
        engine = FakeEngine(call_latency=latency)
        for service in ("timescaledb", "mongodb", "minio"):
            engine.set(service, host_port=free_port())
        engine.set("minio-init", "exited", None, exit_code=0)
        healthy_at = time.monotonic() + rng.uniform(0.3, 1.3)
        starting = inspect_json("redis", health="starting", host_port=settings.redis_port)
        healthy = inspect_json("redis", host_port=settings.redis_port)

        def redis(at: float = healthy_at, ok: dict = healthy, wait: dict = starting) -> dict:
            return ok if time.monotonic() >= at else wait

        engine.containers["redis"] = redis
        runtime = ComposeRuntime(settings, client_factory=engine.client)
        runtime.up(timeout=30)
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
