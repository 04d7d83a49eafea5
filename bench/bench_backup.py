"""`db dump` and `db restore` against plain pg_dump and pg_restore, on the default demo data.

Starts its own local stack in a temporary folder, migrates it and loads `macroinfra seed demo`
(its defaults: 10 years, 20 instruments; `--years` and `--instruments` for another size), then,
alternating within each round so both see the same machine, times:
  - `macroinfra db dump FILE` against `pg_dump -Fc -f FILE` (the same pg_dump binary);
  - `macroinfra db restore FILE` against TimescaleDB's steps by hand into an empty database:
    `CREATE EXTENSION timescaledb; SELECT timescaledb_pre_restore();` (psql), `pg_restore
    --single-transaction --exit-on-error --no-owner -d DB FILE` (the flags `db restore` uses),
    `SELECT timescaledb_post_restore();` (psql). Creating the empty database is not timed.
Each figure is the whole command, process start included; the median of `--runs` rounds.
Targets: dump <= 1.2x pg_dump, restore <= 1.3x pg_restore. It also times a process that only
starts the CLI and reads the settings, what every `db dump` does before it can run pg_dump,
against the time the dump target leaves beside pg_dump.

    .venv/bin/python bench/bench_backup.py [--runs 5] [--years N] [--instruments N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import VENV_BIN, local_stack, timed_run

from macroinfra.backup import catalog, clients

DUMP_TARGET = 1.2
# What any `db dump` does before it can run pg_dump: start Python, load the CLI, read the
# settings (then it connects, exports its snapshot, and spawns pg_dump).
FIXED_START = (
    "from macroinfra.cli.app import app\n"
    "from macroinfra.settings import load_settings\n"
    "load_settings()\n"
    "import gc\n"
    "gc.freeze()"  # as the CLI does before it exits
)
RESTORE_TARGET = 1.3
PRE_RESTORE = "SELECT timescaledb_pre_restore()"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--years", type=int, help="seed demo --years (default: its own, 10)")
    parser.add_argument("--instruments", type=int, help="seed demo --instruments (default: 20)")
    args = parser.parse_args()

    from macroinfra.settings import load_settings

    macroinfra = str(VENV_BIN / "macroinfra")
    with local_stack() as _env, tempfile.TemporaryDirectory(prefix="bench-backup-") as folder:
        settings = load_settings()
        seed = ["seed", "demo"]
        seed += ["--years", str(args.years)] if args.years else []
        seed += ["--instruments", str(args.instruments)] if args.instruments else []
        for step in (["migrate"], seed):
            subprocess.run([macroinfra, *step], check=True, capture_output=True)
        program = host_programs(settings)
        pg = clients.connection_env(settings)  # what `db dump` gives pg_dump
        ours_file, plain_file = Path(folder, "ours.dump"), Path(folder, "plain.dump")
        figures: dict[str, list[float]] = {k: [] for k in ("dump", "pg_dump", "restore", "plain")}
        for round_ in range(args.runs):
            figures["pg_dump"].append(run([program["pg_dump"], "-Fc", "-f", plain_file], pg))
            figures["dump"].append(run([macroinfra, "db", "dump", ours_file]))

            target = fresh_database(settings, f"bench_plain_{round_}")
            restore = [
                program["pg_restore"],
                *("--single-transaction", "--exit-on-error", "--no-owner"),
                *("-d", target, plain_file),
            ]
            started = sum(
                [
                    run(psql(program, target, "CREATE EXTENSION timescaledb", PRE_RESTORE), pg),
                    run(restore, pg),
                    run(psql(program, target, "SELECT timescaledb_post_restore()"), pg),
                ]
            )
            figures["plain"].append(started)
            target = fresh_database(settings, f"bench_ours_{round_}")
            figures["restore"].append(
                run([macroinfra, "db", "restore", ours_file], {"POSTGRES_DB": target})
            )
        startup = statistics.median(
            timed_run([macroinfra, "db", "--help"])[0] for _ in range(args.runs)
        )
        before_pg_dump = statistics.median(
            timed_run([str(VENV_BIN / "python"), "-c", FIXED_START])[0] for _ in range(args.runs)
        )
        rows = count_rows(settings)
        sizes = (ours_file.stat().st_size, plain_file.stat().st_size)

    median = {k: statistics.median(v) for k, v in figures.items()}
    dump_ratio = median["dump"] / median["pg_dump"]
    restore_ratio = median["restore"] / median["plain"]
    print(f"demo data: {rows:,} rows; dump {sizes[0]:,} bytes (plain pg_dump {sizes[1]:,})")
    print(f"medians of {args.runs} rounds, whole commands:")
    print(f"  pg_dump -Fc                      {median['pg_dump']:6.2f} s")
    print(f"  macroinfra db dump               {median['dump']:6.2f} s   {dump_ratio:.2f}x")
    print(f"  pre_restore+pg_restore+post      {median['plain']:6.2f} s")
    print(f"  macroinfra db restore            {median['restore']:6.2f} s   {restore_ratio:.2f}x")
    print(f"  (macroinfra's own start, `macroinfra db --help`: {startup:.2f} s)")
    print(
        f"  (a process that only loads the CLI and the settings: {before_pg_dump:.2f} s, "
        f"against the {median['pg_dump'] * (DUMP_TARGET - 1):.2f} s that "
        f"{DUMP_TARGET}x leaves beside pg_dump)"
    )
    print(
        f"targets: dump <= {DUMP_TARGET}x: {'met' if dump_ratio <= DUMP_TARGET else 'NOT met'}; "
        f"restore <= {RESTORE_TARGET}x: {'met' if restore_ratio <= RESTORE_TARGET else 'NOT met'}"
    )


def run(argv: list, env: dict[str, str] | None = None) -> float:
    wall, _rss, code = timed_run([str(a) for a in argv], env)
    if code != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:2]))} ... exited with {code}")
    return wall


def host_programs(settings) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """pg_dump, pg_restore and psql of the server's major version, as `db dump` and `db
    restore` find them on the host."""
    with catalog.connect(settings) as conn:
        major = catalog.read_versions(conn).major
    found = {p: clients.host_program(settings, p, major) for p in ("pg_dump", "pg_restore", "psql")}
    missing = [p for p, path in found.items() if path is None]
    if missing:
        raise SystemExit(f"no {', '.join(missing)} for PostgreSQL {major} on this machine")
    return {p: path for p, path in found.items() if path is not None}


def psql(program: dict[str, Path], database: str, *commands: str) -> list:
    """psql running `commands` in `database`, quietly."""
    return [program["psql"], "-q", "-d", database, *(a for c in commands for a in ("-c", c))]


def fresh_database(settings, name: str) -> str:  # type: ignore[no-untyped-def]
    import psycopg

    admin = settings.model_copy(update={"postgres_db": "postgres"})
    with psycopg.connect(admin.libpq_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def count_rows(settings) -> int:  # type: ignore[no-untyped-def]
    with catalog.connect(settings) as conn:
        return sum(t.rows for t in catalog.count_rows(conn, catalog.user_tables(conn)))


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
