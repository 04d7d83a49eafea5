"""`macroinfra up --runtime local` as a whole process: cold (first initdb) and warm.

Targets: cold at most 10 s; warm (already running) at most 1 s.
Run: .venv/bin/python bench/bench_local_up.py
"""

from __future__ import annotations

from _common import VENV_BIN, local_stack, timed_run

RUNS = 3


def main() -> None:
    up = [str(VENV_BIN / "macroinfra"), "up", "--runtime", "local"]
    colds, warms = [], []
    for _ in range(RUNS):
        with local_stack(start=False) as env:
            wall, _, code = timed_run(up, env)
            assert code == 0
            colds.append(wall)
            wall, _, code = timed_run(up, env)
            assert code == 0
            warms.append(wall)
    print(f"local up cold: {', '.join(f'{c:.2f}' for c in colds)} s (target <= 10 s)")
    print(f"local up warm: {', '.join(f'{w:.2f}' for w in warms)} s (target <= 1 s)")


if __name__ == "__main__":
    main()
