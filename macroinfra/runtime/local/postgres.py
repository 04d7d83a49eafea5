"""PostgreSQL with TimescaleDB preloaded, as a local server.

The cluster lives in `<state>/postgres`, listens on 127.0.0.1 only and has no Unix socket.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user. The
configured POSTGRES_USER is the cluster's superuser, as in the TimescaleDB image, so the same
settings work under compose and local. A first start initialises the cluster in a folder of
its own and moves it into place only once it is configured, so an interrupted one leaves no
half-made cluster, and the password never touches the disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from macroinfra.errors import OperationError, ServiceUnavailable
from macroinfra.runtime.local.binaries import find_pg_bindir
from macroinfra.runtime.local.files import remove
from macroinfra.runtime.local.processes import POLL_S, kill_all_in
from macroinfra.runtime.local.server import LEFTOVER_WAIT_S, LocalServer, log_since, log_size
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.runtime.base import Progress

INIT_PREFIX = ".postgres-init-"  # the folder a first start initialises the cluster in
CONF_MARKER = "# macroinfra local runtime"
# What the cluster runs with: appended to postgresql.conf, checked once it answers.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "shared_preload_libraries": "timescaledb",
    "max_connections": "100",
}


class _User(NamedTuple):
    """The system user PostgreSQL runs as."""

    uid: int
    gid: int
    name: str


class PostgresServer(LocalServer):
    service = ServiceName.TIMESCALEDB
    program = folder = "postgres"

    @property
    def pidfile(self) -> Path:
        return self.data / "postmaster.pid"  # its port is on the fourth line

    @property
    def data_paths(self) -> list[Path]:
        return [*super().data_paths, *self._leftovers()]

    def _configured_port(self) -> int:
        return int(self.pidfile.read_text().splitlines()[3])

    def health(self, port: int | None) -> str:
        # The postmaster writes its own status on the pid file's eighth line: "starting" while
        # it recovers or starts, "ready" once it takes connections, "stopping".
        try:
            status = self.pidfile.read_text().splitlines()[7].strip()
        except (OSError, IndexError):
            status = ""
        if status in ("starting", "stopping"):
            return status
        return super().health(port)

    def _prepare(self, deadline: float) -> None:
        if (user := self._user()) is not None:
            self._let_in(user)
        for path in self._leftovers():
            # An initdb whose `up` was killed, and its children: each names "postgres" (its
            # -D .postgres-init-... argument) and works in that folder.
            kill_all_in(path, "postgres", deadline)
            remove(path)
        conf = self.data / "postgresql.conf"
        if self.data.is_dir() and not (self.data / "PG_VERSION").exists():
            if any(self.data.iterdir()):
                raise OperationError(
                    f"{self.data} holds files but no PostgreSQL cluster (no PG_VERSION)",
                    hint="move it away, or run `macroinfra down --volumes` to start afresh",
                )
            self.data.rmdir()  # left empty by an earlier version's interrupted first start
        elif self.data.is_dir() and CONF_MARKER not in conf.read_text(errors="replace"):
            raise OperationError(
                f"the PostgreSQL cluster in {self.data} lacks macroinfra's settings in {conf}",
                hint="its first start was interrupted: run `macroinfra down --volumes --yes`",
            )
        self.log.touch(mode=0o600)
        if user is not None:
            os.chown(self.log, user.uid, user.gid)

    def _leftovers(self) -> list[Path]:
        """What an interrupted first start can leave: the cluster it was initialising, and the
        password file of versions before this one."""
        if not self.state_dir.is_dir():
            return []
        legacy = self.state_dir / ".pwfile"
        found = sorted(self.state_dir.glob(f"{INIT_PREFIX}*"))
        return [*found, legacy] if legacy.exists() else found

    def delete_data(self) -> list[str]:
        for path in self._leftovers():
            kill_all_in(path, "postgres", time.monotonic() + LEFTOVER_WAIT_S)
        return super().delete_data()

    def start(self, deadline: float, say: Progress) -> None:
        bindir = find_pg_bindir(self.settings.pg_bindir)
        if not (self.data / "PG_VERSION").exists():
            say(f"initialising a PostgreSQL cluster in {self.data}")
            self._initdb()
        port = self.claim().port
        say(f"starting PostgreSQL {bindir.parent.name} on 127.0.0.1:{port}")
        wait = max(1, int(deadline - time.monotonic()))
        data, log = str(self.data), str(self.log)
        options = f"-p {port}" + self._tls_options()
        argv = ["pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", str(wait), "-o", options]
        offset = log_size(self.log)
        result = self._run(argv)
        if result.returncode != 0:
            logged = log_since(self.log, offset)  # pg_ctl says "see the log" when it wrote one
            fatal = [ln for ln in logged if "FATAL" in ln] or logged[-1:]
            detail = (fatal or result.stderr.strip().splitlines() or ["no output"])[0]
            raise ServiceUnavailable(
                f"PostgreSQL did not start: {self.redact(detail.strip())}", hint=f"see {self.log}"
            )

    def _tls_options(self) -> str:
        """With MACROINFRA_LOCAL_TLS=on: the server certificate copied into the cluster's folder
        (its key must belong to the user PostgreSQL runs as) and ssl turned on for this start;
        off, the cluster's own setting (off) holds."""
        if not self.settings.local_tls:
            return ""
        from macroinfra.connections.local import tls_folder

        user = self._user()
        for name in ("server.crt", "server.key"):
            target = self.data / name
            shutil.copyfile(tls_folder(self.state_dir) / name, target)
            target.chmod(0o600)
            if user is not None:
                os.chown(target, user.uid, user.gid)
        return " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"

    def wait_ready(self, deadline: float, say: Progress) -> None:
        """Ready once the configured user logs in (the configured database is created then),
        and only with macroinfra's settings."""
        import psycopg
        from psycopg import sql

        from macroinfra.connections.postgres import connect_kwargs
        from macroinfra.db import connection_error

        say("waiting for PostgreSQL to accept the configured user")
        s = self.settings
        while True:
            try:
                with psycopg.connect(
                    **connect_kwargs(s, dbname="postgres", connect_timeout=2), autocommit=True
                ) as conn:
                    query = "SELECT 1 FROM pg_database WHERE datname = %s"
                    if not conn.execute(query, (s.postgres_db,)).fetchone():
                        create = sql.SQL("CREATE DATABASE {}")
                        conn.execute(create.format(sql.Identifier(s.postgres_db)))
                    query = "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)"
                    found = dict(conn.execute(query, (list(SERVER_SETTINGS),)).fetchall())
                break
            except psycopg.OperationalError as exc:
                error = connection_error(
                    exc, s.postgres_host, s.postgres_port, s.postgres_user, "postgres"
                )
                if error.reason == "auth" or time.monotonic() > deadline:
                    raise error from None
                time.sleep(POLL_S)
        if wrong := settings_problems(found):
            raise OperationError(
                f"PostgreSQL in {self.data} runs without macroinfra's settings: {wrong}",
                hint="something overrides them (postgresql.auto.conf, an include): remove it",
            )

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

    def _let_in(self, user: _User) -> None:
        """As root, PostgreSQL runs as `postgres`, which must pass through the state folder.
        When it cannot, the folder's group becomes postgres's, allowed to pass only (--x): no
        one else gains any access, and `postgres` cannot even list it."""
        blocked = _unreachable_ancestor(self.state_dir.parent, user)
        if blocked is not None:
            raise OperationError(
                f"the `postgres` user cannot reach {self.state_dir}: {blocked} is closed to it",
                hint="set MACROINFRA_STATE_DIR to a folder it can reach, e.g. /var/lib/macroinfra",
            )
        st = self.state_dir.stat()
        if not _can_enter(st, user):
            os.chown(self.state_dir, -1, user.gid)
            os.chmod(self.state_dir, stat.S_IMODE(st.st_mode) & ~0o070 | 0o010)

    def _run(
        self, argv: list[str], *, cwd: Path | None = None, secret: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (as the postgres user when we are root). A `secret` is its
        standard input, a pipe it may reopen as /dev/stdin: it never touches the disk."""
        user = self._user()
        extra: dict[str, Any] = {}
        if user is not None:
            extra = {"user": user.uid, "group": user.gid, "extra_groups": []}
        logging.getLogger(__name__).debug("running %s", subprocess.list2cmdline(argv))
        stdin: int = subprocess.DEVNULL
        if secret is not None:
            stdin, writer = os.pipe()
            if user is not None:
                os.fchown(stdin, user.uid, user.gid)  # or it may not reopen /dev/stdin
            with os.fdopen(writer, "w") as pipe:
                pipe.write(secret + "\n")
        try:
            return subprocess.run(
                [str(find_pg_bindir(self.settings.pg_bindir) / argv[0]), *argv[1:]],
                stdin=stdin,
                capture_output=True,
                text=True,
                cwd=cwd or self.state_dir,
                check=False,
                **extra,
            )
        finally:
            if secret is not None:
                os.close(stdin)

    def _initdb(self) -> None:
        """Initialise the cluster in a folder of its own, configure it, then move it into place:
        an interrupted first start leaves only that folder, which the next start deletes."""
        work = Path(tempfile.mkdtemp(prefix=INIT_PREFIX, dir=self.state_dir))
        if (user := self._user()) is not None:
            os.chown(work, user.uid, user.gid)
        cluster = work / "data"
        result = self._run(
            [
                "initdb",
                "-D",
                str(cluster),
                "-U",
                self.settings.postgres_user,
                "--pwfile=/dev/stdin",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            cwd=work,  # how the next start finds it, should this one be killed
            secret=self.settings.postgres_password.get_secret_value(),
        )
        if result.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            detail = (self.redact(result.stderr.strip()) or "no output").splitlines()[-1]
            raise ServiceUnavailable(f"initdb failed: {detail}")
        settings = [f"{name} = '{value}'" for name, value in SERVER_SETTINGS.items()]
        with (cluster / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(["", CONF_MARKER, *settings, ""]))
        cluster.rename(self.data)
        shutil.rmtree(work)


def settings_problems(found: dict[str, str]) -> str:
    """How the settings a server reports differ from macroinfra's ("" when they do not)."""
    problems = []
    for name in ("listen_addresses", "unix_socket_directories", "shared_preload_libraries"):
        wanted, value = SERVER_SETTINGS[name], found.get(name)
        if name == "shared_preload_libraries":
            ok = wanted in [v.strip() for v in (value or "").split(",")]
        else:
            ok = value == wanted
        if not ok:
            problems.append(f"{name} is {value!r}, not {wanted!r}")
    return "; ".join(problems)


def _unreachable_ancestor(path: Path, user: _User) -> Path | None:
    for folder in [path, *path.parents]:
        if not _can_enter(folder.stat(), user):
            return folder
    return None


def _can_enter(st: os.stat_result, user: _User) -> bool:
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)
