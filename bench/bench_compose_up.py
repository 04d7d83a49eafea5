"""`macroinfra up timescaledb redis --runtime compose` against a real Docker engine, beside plain
`docker compose -f compose/docker-compose.yml up -d --wait timescaledb redis` on the same file,
services, images and ports, measured alternately in the same run, each from nothing (the
project's containers, network and volumes deleted; the images present). Then `up` when all is
running.

Targets: from nothing, macroinfra / docker compose at most 1.2; up when running at most 1.5 s.
Uses the engine and test images of the compose tests (tests/docker_engine.py): an engine that
answers, or a private dockerd started here (as root) and stopped at the end.
Run: .venv/bin/python bench/bench_compose_up.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import VENV_BIN, free_port, timed_run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from docker_engine import build_test_images, find_or_start  # noqa: E402

from macroinfra.runtime.compose import PROJECT, compose_file  # noqa: E402

RUNS = 3
WARM_RUNS = 5
SERVICES = ["timescaledb", "redis"]


def main() -> None:
    engine = find_or_start()
    try:
        if not engine.private and any(engine.project_resources(PROJECT).values()):
            sys.exit(f"the engine at {engine.host} holds a `{PROJECT}` project; not touching it")
        env = {
            **engine.env,
            **build_test_images(engine),
            "POSTGRES_PORT": str(free_port()),
            "REDIS_PORT": str(free_port()),
            "MACROINFRA_ENV_FILE": os.devnull,
        }
        os.chdir(tempfile.mkdtemp(prefix="macroinfra-bench-"))  # no .env of the checkout
        macroinfra = [str(VENV_BIN / "macroinfra"), "up", *SERVICES, "--runtime", "compose"]
        docker = [_which("docker"), "compose", "-f", str(compose_file()), "up", "-d", "--wait"]
        docker += SERVICES
        down = [str(VENV_BIN / "macroinfra"), "down", "--volumes", "--yes", "--runtime", "compose"]

        cold: dict[str, list[float]] = {"macroinfra": [], "docker compose": []}
        warm: list[float] = []
        try:
            for _ in range(RUNS):
                for name, argv in (("macroinfra", macroinfra), ("docker compose", docker)):
                    _check(timed_run(down, env), "down --volumes")
                    wall, _, code = timed_run(argv, env)
                    _check((wall, 0, code), name)
                    cold[name].append(wall)
            for _ in range(WARM_RUNS):
                wall, _, code = timed_run(macroinfra, env)
                _check((wall, 0, code), "macroinfra up (running)")
                warm.append(wall)
        finally:
            timed_run(down, env)

        print(f"engine: {engine.host} ({'started here' if engine.process else 'found running'})")
        for name, walls in cold.items():
            runs = ", ".join(f"{w:.2f}" for w in walls)
            print(f"up from nothing, {name}: {runs} s (median {statistics.median(walls):.2f} s)")
        ratio = statistics.median(cold["macroinfra"]) / statistics.median(cold["docker compose"])
        print(f"up from nothing, macroinfra / docker compose: {ratio:.2f} (target <= 1.2)")
        runs = ", ".join(f"{w:.2f}" for w in warm)
        median = statistics.median(warm)
        print(f"up when running: {runs} s (median {median:.2f} s, target <= 1.5 s)")
    finally:
        engine.stop()


def _which(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        sys.exit(f"no {command} on PATH")
    return found


def _check(result: tuple[float, float, int], what: str) -> None:
    if result[2] != 0:
        sys.exit(f"{what} exited with {result[2]}")


if __name__ == "__main__":
    main()
