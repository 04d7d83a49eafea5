"""PostgreSQL with TimescaleDB preloaded, as a local server.

The cluster lives in `<state>/postgres`, listens on 127.0.0.1 only and has no Unix socket.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user. The
configured POSTGRES_USER is the cluster's superuser, as in the TimescaleDB image, so the same
settings work under compose and local.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.errors import OperationError, ServiceUnavailable
from macroinfra.runtime.local.binaries import find_pg_bindir
from macroinfra.runtime.local.server import POLL_S, LocalServer, last_line
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.runtime.base import Progress


@dataclass(frozen=True)
class _User:
    uid: int
    gid: int
    name: str


class PostgresServer(LocalServer):
    service = ServiceName.TIMESCALEDB
    program = folder = "postgres"

    @property
    def pidfile(self) -> Path:
        return self.data / "postmaster.pid"  # its port is on the fourth line

    def _configured_port(self) -> int:
        return int(self.pidfile.read_text().splitlines()[3])

    def prepare(self) -> None:
        user = self._user()
        if user is None:
            return
        if self.state_dir.stat().st_uid == 0:
            self.state_dir.chmod(0o755)  # PostgreSQL's user must be able to walk in
        blocked = _unreachable_ancestor(self.state_dir, user)
        if blocked is not None:
            raise OperationError(
                f"the `postgres` user cannot reach {self.state_dir}: {blocked} is closed to it",
                hint="set MACROINFRA_STATE_DIR to a folder it can reach, e.g. /var/lib/macroinfra",
            )

    def start(self, deadline: float, say: Progress) -> None:
        bindir = find_pg_bindir(self.settings.pg_bindir)
        if not (self.data / "PG_VERSION").exists():
            say(f"initialising a PostgreSQL cluster in {self.data}")
            self._initdb()
        port = self.claim().port
        say(f"starting PostgreSQL {bindir.parent.name} on 127.0.0.1:{port}")
        self.log.touch(mode=0o600)
        if (user := self._user()) is not None:
            os.chown(self.log, user.uid, user.gid)
        wait = max(1, int(deadline - time.monotonic()))
        data, log = str(self.data), str(self.log)
        argv = ["pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", str(wait), "-o", f"-p {port}"]
        result = self._run(argv)
        if result.returncode != 0:
            detail = last_line(self.log) or result.stderr
            raise ServiceUnavailable(
                f"PostgreSQL did not start: {self.redact(detail.strip())}", hint=f"see {self.log}"
            )

    def wait_ready(self, deadline: float, say: Progress) -> None:
        """Ready once the configured user logs in; the configured database is created then."""
        import psycopg
        from psycopg import sql

        from macroinfra.db import connection_error

        say("waiting for PostgreSQL to accept the configured user")
        s = self.settings
        while True:
            try:
                with psycopg.connect(
                    host=s.postgres_host,
                    port=s.postgres_port,
                    user=s.postgres_user,
                    password=s.postgres_password.get_secret_value(),
                    dbname="postgres",
                    connect_timeout=2,
                    autocommit=True,
                ) as conn:
                    query = "SELECT 1 FROM pg_database WHERE datname = %s"
                    if not conn.execute(query, (s.postgres_db,)).fetchone():
                        create = sql.SQL("CREATE DATABASE {}")
                        conn.execute(create.format(sql.Identifier(s.postgres_db)))
                return
            except psycopg.OperationalError as exc:
                error = connection_error(
                    exc, s.postgres_host, s.postgres_port, s.postgres_user, "postgres"
                )
                if error.reason == "auth" or time.monotonic() > deadline:
                    raise error from None
                time.sleep(POLL_S)

    def _terminate(self, pid: int) -> None:
        result = self._run(["pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w"])
        if result.returncode != 0:  # never report (or delete) a server that still runs
            detail = self.redact(result.stderr.strip()) or "no output"
            raise OperationError(f"PostgreSQL did not stop: {detail}", hint=f"see {self.log}")

    # -- as whom, and with which programs --------------------------------------------------------

    def _user(self) -> _User | None:
        """The user PostgreSQL runs as: `postgres` when we are root, else ourselves (None)."""
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceUnavailable(
                "running as root, and there is no `postgres` user to run PostgreSQL as",
                hint="install the PostgreSQL server package (it creates that user)",
            ) from None
        return _User(entry.pw_uid, entry.pw_gid, entry.pw_name)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (as the postgres user when we are root)."""
        user = self._user()
        extra: dict[str, Any] = {}
        if user is not None:
            extra = {"user": user.uid, "group": user.gid, "extra_groups": []}
        return subprocess.run(
            [str(find_pg_bindir(self.settings.pg_bindir) / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            cwd=self.state_dir,
            check=False,
            **extra,
        )

    def _initdb(self) -> None:
        user = self._user()
        if self.data.exists():
            if any(self.data.iterdir()):
                raise OperationError(
                    f"{self.data} holds files but no PostgreSQL cluster (no PG_VERSION)",
                    hint="move it away, or run `macroinfra down --volumes` to start afresh",
                )
            self.data.rmdir()  # left empty by an interrupted first start
        self.data.mkdir(mode=0o700)
        pwfile = self.state_dir / ".pwfile"
        pwfile.touch(mode=0o600)
        result = None
        try:
            if user is not None:
                os.chown(self.data, user.uid, user.gid)
                os.chown(pwfile, user.uid, user.gid)
            pwfile.write_text(self.settings.postgres_password.get_secret_value() + "\n")
            result = self._run(
                [
                    "initdb",
                    "-D",
                    str(self.data),
                    "-U",
                    self.settings.postgres_user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
            if result is None or result.returncode != 0:  # failed or interrupted: leave no half
                shutil.rmtree(self.data, ignore_errors=True)
        if result.returncode != 0:
            detail = (self.redact(result.stderr.strip()) or "no output").splitlines()[-1]
            raise ServiceUnavailable(f"initdb failed: {detail}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# macroinfra local runtime\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "shared_preload_libraries = 'timescaledb'\n"
                "max_connections = 100\n"
            )


def _unreachable_ancestor(path: Path, user: _User) -> Path | None:
    for folder in [path, *path.parents]:
        st = folder.stat()
        if st.st_uid == user.uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return folder
    return None
