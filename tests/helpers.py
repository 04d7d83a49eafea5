"""Helpers the tests share: free ports, settings as an environment, the CLI runner, SQL reads.

Imported by tests as `from helpers import ...`; fixtures stay in conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from macroinfra.settings import Settings, env_name, known_variables

# Every variable Settings reads (secret files' <NAME>_FILE included), so nothing from the
# machine's environment leaks into a test.
SETTINGS_VARIABLES = known_variables()


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


@contextmanager
def own_local_stack(*, start: bool = False, **overrides: Any) -> Iterator[Settings]:
    """Settings of a local-runtime stack of its own: free ports on 127.0.0.1, a state folder of
    its own, `overrides` (load_settings' fields) on top; started first when `start`. On leaving,
    stopped with its data deleted (`down --volumes`) and its state folder removed."""
    from macroinfra.runtime.local import LocalRuntime
    from macroinfra.settings import load_settings

    state = make_state_dir()
    defaults = {
        "postgres_port": free_port(),
        "redis_port": free_port(),
        "state_dir": state,
        "runtime": "local",
    }
    settings = load_settings(None, **(defaults | overrides))
    runtime = LocalRuntime(settings)
    try:
        if start:
            runtime.up(timeout=60)
        yield settings
    finally:
        runtime.down(volumes=True)
        shutil.rmtree(state, ignore_errors=True)


@contextmanager
def scratch_database(
    settings: Settings, prefix: str = "test", options: str = ""
) -> Iterator[Settings]:
    """Settings pointing at a new, empty database of its own, dropped on leaving.
    `options`: CREATE DATABASE's own, after the name."""
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = settings.model_copy(update={"postgres_db": "postgres"})
    with psycopg.connect(admin.libpq_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} " + options).format(sql.Identifier(name)))
    try:
        yield settings.model_copy(update={"postgres_db": name})
    finally:
        with psycopg.connect(admin.libpq_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class Cli:
    """Runs the real Typer app in-process with a controlled environment."""

    def __init__(self, settings: Settings | None) -> None:
        self.env = settings_env(settings) if settings is not None else {}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        from macroinfra.cli.app import app

        runner = CliRunner()
        return runner.invoke(app, list(args), env={**self.env, **(env or {})}, input=input)


def checks_by_name(result) -> dict[str, dict]:
    """The checks of a `doctor --json` run (a Cli result), by name."""
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def doctor_checks(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, dict], str]:
    """`macroinfra doctor *args --json` with `settings` (and `env` on top): its exit code, its
    checks by name, and everything it wrote (to look for a secret in)."""
    result = Cli(settings)("doctor", *args, "--json", env=env)
    return result.exit_code, checks_by_name(result), result.output


def sql_rows(settings: Settings, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(settings.libpq_url) as conn:
        return conn.execute(query, params).fetchall()


def error_lines(text: str) -> list[str]:
    """A failure's lines without the note on which .env was read, which ends every failure."""
    notes = ("no .env found in ", "settings read from ")
    return [line for line in text.splitlines() if not line.startswith(notes)]


# -- a command in a process of its own, and a server that kills its session ----------------

DEADLINE_S = 60


def cli_process(settings, *args: str) -> subprocess.Popen[str]:
    """The real `macroinfra` in a process of its own (its stderr is what a person sees)."""
    return subprocess.Popen(
        [sys.executable, "-c", "from macroinfra.cli import main; main()", *args],
        env={**os.environ, **settings_env(settings), "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def terminate_when_blocked(
    settings, holder: psycopg.Connection, proc: subprocess.Popen[str], *, refuse: bool = False
) -> None:
    """Wait until a session of `proc` waits on a lock `holder` holds, then have the server
    terminate that session. With `refuse`, the database first stops accepting sessions (as
    a server that crashed does while it recovers) until `proc` has ended."""
    from psycopg import sql

    database = sql.Identifier(settings.postgres_db)
    admin_db = settings.model_copy(update={"postgres_db": "postgres"})
    deadline = time.monotonic() + DEADLINE_S
    with psycopg.connect(admin_db.libpq_url, autocommit=True) as admin:
        while True:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s"
                " AND backend_type = 'client backend' AND wait_event_type = 'Lock'",
                (settings.postgres_db, holder.info.backend_pid),
            ).fetchone()
            if row:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command should wait on the held lock"
        if refuse:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
        admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        if refuse:
            proc.wait(timeout=DEADLINE_S)
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))


def run_while_blocked(settings, work, release) -> None:
    """Run `work` in a thread, wait until it waits on a lock, then `release` and join it."""
    import threading

    thread = threading.Thread(target=work)
    thread.start()
    while not sql_rows(
        settings,
        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()",
    ):
        assert thread.is_alive()
    release()
    thread.join(timeout=30)


def assert_one_error_line(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in out + err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


# -- a schema inspection of the Community edition (not installable here) --------------------


def community_inspection(**changes: Any) -> Any:
    """An inspection exactly as declared, on a Community server, with `changes` per table."""
    from dataclasses import replace
    from datetime import timedelta

    from macroinfra.timescale.edition import ServerInfo
    from macroinfra.timescale.inspect import (
        HypertableInfo,
        JobInfo,
        SchemaInspection,
        TableInfo,
        UniqueIndex,
    )
    from macroinfra.timescale.spec import HYPERTABLES, METADATA_TABLES, OrderBy

    server = ServerInfo("db", "17.2", "2.19.3", "timescale")
    tables = [TableInfo(name, 8192, 0) for name in METADATA_TABLES]
    for spec in HYPERTABLES:
        policy = JobInfo(
            1000 + len(tables),
            "policy_compression",
            timedelta(hours=12),
            True,
            {},
            spec.compress_after,
            "Success",
            "Scheduled",
            None,
            None,
            None,
            1,
            0,
        )
        hyper = HypertableInfo(
            time_column=spec.time_column,
            time_type=spec.time_type,
            chunk_interval=spec.chunk_interval,
            num_chunks=3,
            compressed_chunks=1,
            compression_enabled=True,
            segment_by=spec.segment_by,
            order_by=tuple(OrderBy(o.column, o.descending, o.descending) for o in spec.order_by),
            total_bytes=1 << 20,
            before_compression_bytes=1 << 20,
            after_compression_bytes=1 << 17,
            jobs=(policy,),
            unique_indexes=(UniqueIndex(f"pk_{spec.table}", ("id", spec.time_column), True),),
        )
        hyper = replace(hyper, **changes.get(spec.table, {}))
        tables.append(TableInfo(spec.table, 1 << 20, 10, hyper))
    return SchemaInspection(server, "public", tables)
