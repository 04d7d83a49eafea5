"""`macroinfra doctor` against TLS services versus the same services without TLS, in one run.

Two local stacks (PostgreSQL + TimescaleDB, Redis with an ACL user) of the same programs: one
plain, one serving TLS (MACROINFRA_LOCAL_TLS=on: PostgreSQL verify-full, Redis TLS only). Each
is probed by `doctor timescaledb redis`, alternately, in process (run_doctor: the probes
alone) and as the command (a process: interpreter start-up and imports included).

Target: doctor over TLS takes at most 1.5x its time without TLS.
Run: .venv/bin/python bench/bench_tls.py [RUNS]   (default 30 in process, RUNS // 3 processes)
"""

from __future__ import annotations

import statistics
import sys
import time

from _common import VENV_BIN, local_stack, settings_of, timed_run

TARGET = 1.5


def stack(tls: bool):  # type: ignore[no-untyped-def]
    """The environment of a started local stack with passwords (TLS or not)."""
    return local_stack(
        extra={
            "POSTGRES_PASSWORD": "bench pg pass",
            "REDIS_PASSWORD": "bench redis pass",
            "REDIS_USERNAME": "bench",
            "MACROINFRA_LOCAL_TLS": "on" if tls else "off",
        }
    )


def probe_once(env: dict[str, str]) -> tuple[float, list[str]]:
    from macroinfra.probes import run_doctor

    settings = settings_of(env)
    started = time.perf_counter()
    report = run_doctor(settings, ["timescaledb", "redis"])
    elapsed = time.perf_counter() - started
    return elapsed, [f"{c.name}={c.status.value}" for c in report.checks]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    doctor = [str(VENV_BIN / "macroinfra"), "doctor", "timescaledb", "redis"]
    with stack(tls=False) as plain, stack(tls=True) as tls:
        probe_once(plain)  # imports and first connections out of the figures
        probe_once(tls)
        times: dict[str, list[float]] = {"plain": [], "tls": []}
        checks: dict[str, list[str]] = {}
        for _ in range(runs):
            for label, env in (("plain", plain), ("tls", tls)):
                elapsed, checks[label] = probe_once(env)
                times[label].append(elapsed)
        walls: dict[str, list[float]] = {"plain": [], "tls": []}
        for _ in range(max(3, runs // 3)):
            for label, env in (("plain", plain), ("tls", tls)):
                wall, _, code = timed_run(doctor, env)
                assert code in (0, 1), f"doctor exited {code}"
                walls[label].append(wall)
    for label in ("plain", "tls"):
        print(f"{label:5} checks: {', '.join(checks[label])}")
    for what, figures in (("run_doctor (in process)", times), ("`macroinfra doctor`", walls)):
        plain_s, tls_s = (statistics.median(figures[k]) for k in ("plain", "tls"))
        ratio = tls_s / plain_s
        verdict = "ok" if ratio <= TARGET else "OVER"
        print(
            f"{what}: median without TLS {plain_s * 1000:.1f} ms, with TLS {tls_s * 1000:.1f} ms"
            f" over {len(figures['plain'])} runs each: {ratio:.2f}x (target {TARGET}x: {verdict})"
        )


if __name__ == "__main__":
    main()
