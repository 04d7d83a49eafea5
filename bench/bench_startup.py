"""Start-up cost: `macroinfra --help` against `alembic --help`, and `macroinfra doctor
timescaledb redis` against the servers' own pings (`pg_isready` + `redis-cli ping`) on a running
local stack, in the same run.

Targets: --help at most 0.30 x alembic's wall time and 50 MiB peak RSS; doctor at most 6 x the
two pings.
Run: .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import os
import shutil

from _common import VENV_BIN, local_stack, median_run

RUNS = 15


def main() -> None:
    ours, ours_mem, codes = median_run([str(VENV_BIN / "macroinfra"), "--help"], RUNS)
    theirs, theirs_mem, _ = median_run([str(VENV_BIN / "alembic"), "--help"], RUNS)
    assert codes == {0}
    ratio = ours / theirs
    print(f"macroinfra --help: median {ours * 1000:.0f} ms, peak {ours_mem:.1f} MiB ({RUNS} runs)")
    print(f"alembic --help:    median {theirs * 1000:.0f} ms, peak {theirs_mem:.1f} MiB")
    print(f"ratio: {ratio:.2f} (target <= 0.30)  {'ok' if ratio <= 0.30 else 'OVER'}")
    print(f"memory: {ours_mem:.1f} MiB (target <= 50)  {'ok' if ours_mem <= 50 else 'OVER'}")
    doctor_against_pings()


def doctor_against_pings() -> None:
    from macroinfra.runtime.local import find_pg_bindir

    pg_isready = str(find_pg_bindir() / "pg_isready")
    redis_cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    with local_stack() as env:
        doctor, _, codes = median_run(
            [str(VENV_BIN / "macroinfra"), "doctor", "timescaledb", "redis"], RUNS, env
        )
        assert codes == {0}, codes
        pg, _, pg_codes = median_run(
            [pg_isready, "-q", "-h", "127.0.0.1", "-p", env["POSTGRES_PORT"]], RUNS
        )
        redis, _, redis_codes = median_run(
            [redis_cli, "-h", "127.0.0.1", "-p", env["REDIS_PORT"], "ping"], RUNS
        )
        assert pg_codes == {0} and redis_codes == {0}
    pings = pg + redis
    ratio = doctor / pings
    print(f"doctor timescaledb redis: median {doctor * 1000:.0f} ms ({RUNS} runs)")
    print(f"pg_isready + redis-cli ping: median {pg * 1000:.0f} + {redis * 1000:.0f} ms")
    print(f"ratio: {ratio:.1f} (target <= 6)  {'ok' if ratio <= 6 else 'OVER'}")


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
