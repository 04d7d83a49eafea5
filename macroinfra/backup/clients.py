"""The PostgreSQL client programs (pg_dump, pg_restore, psql) and how to run them against the
configured database.

pg_dump and pg_restore must be of the server's major version: the host's own when it has them
(MACROINFRA_PG_BINDIR, Debian's /usr/lib/postgresql/<major>/bin, or the one on PATH), else,
under the compose runtime, the ones inside the timescaledb container (`docker compose exec`).
psql may be of any version. Archives go through the programs' stdin and stdout, so a program
in the container reads and writes files on the host.

The password reaches a program through its environment only, never a command line: on the
host as PGPASSWORD in the child's environment; into the container by `docker compose exec
--env PGPASSWORD`, which names the variable and takes its value from the environment of the
docker process (and only that process).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from macroinfra.db import CONNECT_TIMEOUT_S
from macroinfra.errors import ServiceUnavailable

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SERVICE = "timescaledb"  # the compose service that runs PostgreSQL
SERVICE_PORT = 5432  # where PostgreSQL listens inside its container
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
_DEBIAN_BINDIRS = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Client:
    """One client program, ready to run against the configured database."""

    program: str
    argv: tuple[str, ...]  # the command line up to the program's own arguments; no secret
    env: dict[str, str] = field(repr=False)  # the child's whole environment (holds PGPASSWORD)
    where: str  # "host" or "container"

    def command(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    @property
    def description(self) -> str:
        if self.where == "container":
            return f"{self.program} in the {SERVICE} container"
        return self.argv[0]


def connection_env(settings: Settings, *, inside_container: bool = False) -> dict[str, str]:
    """libpq's variables for the configured database (the password included), and its TLS
    settings (PGSSLMODE, PGSSLROOTCERT, ...) for a client on this machine; one in the
    container reaches its own server over 127.0.0.1, where the host's files are not."""
    from macroinfra.connections.postgres import client_environment

    tls = {} if inside_container else client_environment(settings)
    return tls | {
        "PGHOST": "127.0.0.1" if inside_container else settings.postgres_host,
        "PGPORT": str(SERVICE_PORT if inside_container else settings.postgres_port),
        "PGUSER": settings.postgres_user,
        "PGDATABASE": settings.postgres_db,
        "PGPASSWORD": settings.postgres_password.get_secret_value(),
        "PGAPPNAME": "macroinfra",
        "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", str(CONNECT_TIMEOUT_S)),
    }


def find_client(
    settings: Settings, program: str, major: int | None, *, interactive: bool = False
) -> Client:
    """`program` for a server of `major` (None: any version will do), on the host if it has
    it, else in the compose runtime's container. `interactive`: the container gets a terminal
    (only when stdin is one)."""
    path = host_program(settings, program, major)
    if path is not None:
        env = {**os.environ, **connection_env(settings)}
        return Client(program, (str(path),), env, "host")
    from macroinfra.runtime import select_runtime

    runtime = select_runtime(settings).runtime
    if runtime.name == "compose":
        return _container_client(runtime, settings, program, interactive)
    wanted = f"{program} for PostgreSQL {major}" if major else program
    package = f"postgresql-client-{major}" if major else "postgresql-client"
    raise ServiceUnavailable(
        f"no {wanted} on this machine",
        hint=f"install {package}, or set MACROINFRA_PG_BINDIR to the folder that holds it",
    )


def host_program(settings: Settings, program: str, major: int | None) -> Path | None:
    """The host's `program` of that major (any, newest first, when None)."""
    folders: list[Path] = []
    if settings.pg_bindir is not None:
        folders.append(settings.pg_bindir)
    if major is not None:
        folders.append(_DEBIAN_BINDIRS / str(major) / "bin")
    if found := shutil.which(program):
        folders.append(Path(found).parent)
    if major is None:
        from macroinfra.runtime.local.binaries import debian_bindirs

        folders += debian_bindirs(program)
    for folder in folders:
        path = folder / program
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        if major is None or program_major(path) == major:
            return path
    return None


def program_major(path: Path) -> int | None:
    """The major version a client program reports (Debian's folders say it by their name)."""
    if path.parent.parent.parent == _DEBIAN_BINDIRS and path.parent.parent.name.isdigit():
        return int(path.parent.parent.name)
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    return int(match.group(1)) if match else None


def _container_client(runtime: Any, settings: Settings, program: str, tty: bool) -> Client:
    compose = [str(part) for part in runtime.client([]).client_config.docker_compose_cmd]
    variables = connection_env(settings, inside_container=True)
    password = variables.pop("PGPASSWORD")
    argv = [*compose, "exec"]
    if not tty:
        argv.append("-T")
    for name, value in variables.items():
        argv += ["--env", f"{name}={value}"]
    argv += ["--env", "PGPASSWORD", SERVICE, program]  # the value: from the docker process's env
    return Client(program, tuple(argv), {**os.environ, "PGPASSWORD": password}, "container")


def run(
    client: Client,
    args: Sequence[str],
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    on_stderr: Callable[[str], None],
) -> int:
    """Run the program with `args`, handing each stderr line to `on_stderr` as it comes;
    its exit code. Interrupted, the program is stopped before the interruption goes on."""
    try:
        process = subprocess.Popen(
            client.command(*args),
            env=client.env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise cannot_start(client, exc) from None
    try:
        assert process.stderr is not None
        for raw in process.stderr:
            on_stderr(raw.decode(errors="replace").rstrip("\r\n"))
        return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def capture(client: Client, args: Sequence[str], *, stdin: IO[bytes] | None = None):
    """Run the program to its end; the finished process with its stdout and stderr (text)."""
    try:
        return subprocess.run(
            client.command(*args),
            env=client.env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise cannot_start(client, exc) from None


def cannot_start(client: Client, exc: OSError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"cannot run {client.argv[0]}: {exc.strerror or exc}",
        hint="install the PostgreSQL client programs, or set MACROINFRA_PG_BINDIR",
    )
