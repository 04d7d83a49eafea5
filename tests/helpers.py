"""Helpers the tests share: free ports, settings as an environment, the CLI runner, SQL reads.

Imported by tests as `from helpers import ...`; fixtures stay in conftest.py.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from macroinfra.settings import Settings, env_name

# Every variable Settings reads, so nothing from the machine's environment leaks into a test.
SETTINGS_VARIABLES = [env_name(f) for f in Settings.model_fields] + ["MACROINFRA_ENV_FILE"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce `settings` in a CLI process."""
    env = {}
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[env_name(field)] = str(value)
    return env


def make_state_dir() -> Path:
    """A private (0700) state folder under /tmp: the local runtime opens what PostgreSQL's
    user must pass through, and nothing more, itself."""
    return Path(tempfile.mkdtemp(prefix="macroinfra-state-", dir="/tmp"))


class Cli:
    """Runs the real Typer app in-process with a controlled environment."""

    def __init__(self, settings: Settings | None) -> None:
        self.env = settings_env(settings) if settings is not None else {}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        from macroinfra.cli.app import app

        runner = CliRunner()
        return runner.invoke(app, list(args), env={**self.env, **(env or {})}, input=input)


def sql_rows(settings: Settings, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(settings.libpq_url) as conn:
        return conn.execute(query, params).fetchall()


def error_lines(text: str) -> list[str]:
    """A failure's lines without the note on which .env was read, which ends every failure."""
    notes = ("no .env found in ", "settings read from ")
    return [line for line in text.splitlines() if not line.startswith(notes)]
