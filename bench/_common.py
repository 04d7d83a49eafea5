"""Shared helpers for the benchmarks: timed child processes and a throwaway local stack."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PACKAGE = Path(__file__).resolve().parents[1] / "macroinfra"


@cache
def _cache_bytecode() -> None:
    """Commands start from cached bytecode, as they do from an installed wheel, even where
    PYTHONDONTWRITEBYTECODE keeps Python from caching it (each start would compile the
    package's source again). Once per bench, before its first timed command."""
    import compileall

    compileall.compile_dir(PACKAGE, quiet=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def silent_listener() -> socket.socket:
    """A socket listening on 127.0.0.1 that never accepts: a client's connection completes in
    the kernel's backlog and then waits for an answer that never comes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def timed_run(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run a command; return (wall seconds, peak RSS in MiB, exit code)."""
    _cache_bytecode()  # not timed
    start = time.perf_counter()
    pid = os.posix_spawn(
        argv[0],
        list(argv),
        {**os.environ, **(env or {})},
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def median_run(argv: Sequence[str], runs: int, env: dict[str, str] | None = None):
    results = [timed_run(argv, env) for _ in range(runs)]
    codes = {r[2] for r in results}
    return statistics.median(r[0] for r in results), max(r[1] for r in results), codes


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """`env` added to this process's environment, which is as it was again on leaving."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_of(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The settings `env` gives, on top of this process's environment."""
    from macroinfra.settings import load_settings

    with environ(env):
        return load_settings()


@contextmanager
def local_stack(
    start: bool = True, extra: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Environment variables of a local stack in a temporary state folder (started if asked),
    `extra` on top; they are in this process's environment until the stack is gone."""
    from macroinfra.runtime.local import LocalRuntime
    from macroinfra.settings import load_settings

    state = Path(tempfile.mkdtemp(prefix="macroinfra-bench-", dir="/tmp"))
    env = {
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "MACROINFRA_STATE_DIR": str(state),
        "MACROINFRA_RUNTIME": "local",
        "MACROINFRA_ENV_FILE": os.devnull,
    } | (extra or {})
    with environ(env):
        runtime = LocalRuntime(load_settings())
        try:
            if start:
                runtime.up(timeout=60)
            yield env
        finally:
            runtime.down(volumes=True)
            shutil.rmtree(state, ignore_errors=True)
