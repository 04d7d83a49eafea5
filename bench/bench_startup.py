"""`macroinfra --help` start-up: wall time against `alembic --help`, and peak memory.

Target: at most 0.30 x alembic's wall time, at most 50 MiB peak RSS.
Run: .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

from _common import VENV_BIN, median_run

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


if __name__ == "__main__":
    main()
