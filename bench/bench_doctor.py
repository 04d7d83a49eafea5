"""`macroinfra doctor` with all five services unreachable: closed ports, and ports that accept a
connection and never answer (every setting points at 127.0.0.1).

Target: the whole command ends within the probe timeout plus 0.5 s.
Run: .venv/bin/python bench/bench_doctor.py [TIMEOUT_SECONDS ...]   (default: 5, the default
probe timeout, and 1)
"""

from __future__ import annotations

import os
import sys
import time

from _common import VENV_BIN, free_port, silent_listener, timed_run

RUNS = 3
MARGIN_S = 0.5


def environment(ports: list[int]) -> dict[str, str]:
    pg, redis, mongo, kafka, minio = ports
    return {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(pg),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis),
        "REDIS_PASSWORD": "bench-pass",
        "MONGO_HOST": "127.0.0.1",
        "MONGO_PORT": str(mongo),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "MINIO_ENDPOINT": f"127.0.0.1:{minio}",
        "MACROINFRA_RUNTIME": "external",
        "MACROINFRA_ENV_FILE": os.devnull,
    }


def in_process(env: dict[str, str], timeout: float) -> tuple[float, list[str]]:
    from macroinfra.probes import run_doctor
    from macroinfra.settings import load_settings

    os.environ.update(env)
    settings = load_settings()
    started = time.perf_counter()
    report = run_doctor(settings, timeout=timeout)
    elapsed = time.perf_counter() - started
    return elapsed, [f"{c.name}={c.reason}" for c in report.checks]


def main() -> None:
    timeouts = [float(a) for a in sys.argv[1:]] or [5.0, 1.0]
    doctor = [str(VENV_BIN / "macroinfra"), "doctor", "--strict"]
    silent = [silent_listener() for _ in range(5)]
    scenarios = {
        "closed ports": environment([free_port() for _ in range(5)]),
        "silent ports": environment([s.getsockname()[1] for s in silent]),
    }
    try:
        for timeout in timeouts:
            bound = timeout + MARGIN_S
            for label, env in scenarios.items():
                lib, reasons = in_process(env, timeout)
                walls = []
                for _ in range(RUNS):
                    wall, _, code = timed_run([*doctor, "--timeout", str(timeout)], env)
                    assert code == 1, f"doctor exited {code}"
                    walls.append(wall)
                worst = max(walls)
                verdict = "ok" if worst <= bound and lib <= bound else "OVER"
                print(
                    f"timeout {timeout:g} s, {label}: run_doctor {lib:.2f} s; "
                    f"`macroinfra doctor --strict` process max {worst:.2f} s of {RUNS} "
                    f"(bound {bound:g} s: {verdict})"
                )
                print(f"    checks: {', '.join(reasons)}")
    finally:
        for s in silent:
            s.close()


if __name__ == "__main__":
    main()
