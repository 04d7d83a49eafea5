"""`macroinfra migrate` as a whole process: empty database to head, and at head.

Targets: empty -> head at most 3 s; at head at most 1 s.
Run: .venv/bin/python bench/bench_migrate.py
"""

from __future__ import annotations

from _common import VENV_BIN, local_stack, timed_run

RUNS = 5


def main() -> None:
    import psycopg

    from macroinfra.settings import load_settings

    migrate = [str(VENV_BIN / "macroinfra"), "migrate"]
    with local_stack() as env:
        settings = load_settings()
        cold, at_head = [], []
        for i in range(RUNS):
            name = f"bench_{i}"
            admin = settings.model_copy(update={"postgres_db": "postgres"})
            with psycopg.connect(admin.libpq_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            for times in (cold, at_head):  # from empty to head, then again at head
                wall, _, code = timed_run(migrate, {**env, "POSTGRES_DB": name})
                assert code == 0
                times.append(wall)
    cold.sort()
    at_head.sort()
    print(
        f"migrate empty -> head: median {cold[RUNS // 2]:.2f} s, max {cold[-1]:.2f} s "
        f"(target <= 3 s, {RUNS} runs)"
    )
    print(
        f"migrate at head:       median {at_head[RUNS // 2]:.2f} s, max {at_head[-1]:.2f} s "
        f"(target <= 1 s)"
    )


if __name__ == "__main__":
    main()
