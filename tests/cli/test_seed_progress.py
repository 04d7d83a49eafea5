"""seed demo's progress: the library reports rows per table through a callback (no Rich); the
CLI draws a bar per table on a terminal (stderr), and nothing of it when piped, --quiet or
--json."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading

import pytest
from helpers import settings_env

from macroinfra.data.demo import ROWS_EVERY, TABLES, RowsLoaded, seed_demo
from macroinfra.db import Database

SEED = ("seed", "demo", "--years", "2", "--instruments", "3", "--end", "2025-06-30")


def _seed(settings, events: list[RowsLoaded]):
    from datetime import date

    db = Database(settings)
    try:
        return seed_demo(db, years=2, instruments=5, end=date(2025, 6, 30), on_rows=events.append)
    finally:
        db.dispose()


def test_the_callback_hears_every_table_in_order_with_its_rows(migrated):
    events: list[RowsLoaded] = []
    result = _seed(migrated, events)
    assert [e.table for e in events if e.done] == list(TABLES)
    loads = {r.table: r for r in result.loads}
    for step, table in enumerate(TABLES, 1):
        mine = [e for e in events if e.table == table]
        assert all(e.step == step and e.steps == len(TABLES) for e in mine)
        assert mine[0] == RowsLoaded(table, step, len(TABLES), 0)  # announced before any row
        assert mine[-1].done and mine[-1].rows == loads[table].offered
        assert mine[-1].inserted == loads[table].inserted
        middle = [e.rows for e in mine[1:-1]]
        assert middle == [ROWS_EVERY * k for k in range(1, loads[table].offered // ROWS_EVERY + 1)]
        assert not any(e.done for e in mine[:-1])
    # Tables follow each other: no event of a table after the next one began.
    order = [TABLES.index(e.table) for e in events]
    assert order == sorted(order)
    assert loads["market_data"].offered > ROWS_EVERY  # so the middle events were exercised

    again: list[RowsLoaded] = []
    second = _seed(migrated, again)
    assert second.inserted == 0
    assert [e.inserted for e in again if e.done] == [0] * len(TABLES)


def _run(settings, *args: str, terminal: bool) -> tuple[int, str, str]:
    """The real CLI in a process of its own, its stderr a pipe or a pseudo-terminal."""
    env = {**os.environ, **settings_env(settings), "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    argv = [sys.executable, "-c", "from macroinfra.cli import main; main()", *args]
    if not terminal:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.run(
            argv, env=env, stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120
        )
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    return proc.returncode, proc.stdout, b"".join(chunks).decode(errors="replace")


def test_a_terminal_shows_a_bar_with_the_rows_of_each_table(migrated):
    code, out, err = _run(migrated, *SEED, terminal=True)
    assert code == 0, err
    assert "━" in err  # the bar
    for table in TABLES:
        assert table in err
    market_rows = next(line for line in out.splitlines() if line.startswith("market_data"))
    offered = market_rows.split()[1]  # the table's own count of offered rows
    assert f"{offered} rows" in err


def test_piped_output_has_no_progress_bar(migrated):
    code, out, err = _run(migrated, *SEED, terminal=False)
    assert code == 0, err
    assert "━" not in err and "\r" not in err and "\x1b" not in err
    assert " rows" not in err  # no counts: only the plain step lines
    assert all(line.startswith(("loading ", "compressing ")) for line in err.splitlines()), err


@pytest.mark.parametrize("flags", [("-q",), ("--json",)])
def test_quiet_or_json_on_a_terminal_shows_no_progress(migrated, flags):
    args = (*flags, *SEED) if flags == ("-q",) else (*SEED, *flags)
    code, out, err = _run(migrated, *args, terminal=True)
    assert code == 0, err
    assert err.strip() == "", err
    if flags == ("--json",):
        assert json.loads(out)["schema_version"] == 1
