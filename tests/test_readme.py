"""The README's Python blocks run as written, in order, against a migrated and seeded
database (a reader pastes them into one session)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from helpers import Cli, settings_env

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 2


@pytest.fixture
def seeded(migrated):
    args = ("--years", "2", "--instruments", "2", "--end", "2021-12-31")  # spans the as-of
    result = Cli(migrated)("seed", "demo", *args)
    assert result.exit_code == 0, result.output
    return migrated


def test_every_python_block_runs_as_written(seeded, monkeypatch):
    for name, value in settings_env(seeded).items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            for block in python_blocks():
                exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
            # Run again: the load is idempotent, so the second time it inserts nothing.
            exec(compile(python_blocks()[-1], str(README), "exec"), namespace)  # noqa: S102
    finally:
        db = namespace.get("db")
        if db is not None:
            db.dispose()  # type: ignore[attr-defined]
    lines = printed.getvalue().splitlines()
    assert lines[0].isdigit() and lines[1] == "True"  # a count of data sources; Redis PING
    assert lines[2] == "1 1" and lines[4] == "1 0"  # offered, inserted; then the reload
    count, known_then = lines[3].split()
    assert int(count) > 0 and known_then == "True"  # nothing released after the instant
