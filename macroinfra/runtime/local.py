"""The local runtime: PostgreSQL (TimescaleDB preloaded) and Redis as background processes.

For machines without a Docker engine. Data lives under the state folder; servers listen on
127.0.0.1 only, on the configured ports. PostgreSQL refuses to run as root, so as root it runs
as the `postgres` system user. The configured POSTGRES_USER is the cluster's superuser, as in
the TimescaleDB image, so the same settings work under compose and local.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.errors import OperationError, ServiceUnavailable, UsageError
from macroinfra.runtime.base import SERVICES, Progress, ServiceState, StackResult
from macroinfra.runtime.ports import PortClaim, ensure_ports_free

if TYPE_CHECKING:
    from macroinfra.settings import Settings

PROVIDED = ("timescaledb", "redis")
NOT_PROVIDED_DETAIL = "not run by the local runtime (use compose, or a server elsewhere)"
POLL_S = 0.05


@dataclass(frozen=True)
class _User:
    uid: int
    gid: int
    name: str


class LocalRuntime:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = Path(settings.state_dir).absolute()
        self.pg_data = self.state_dir / "postgres"
        self.pg_log = self.state_dir / "postgres.log"
        self.redis_dir = self.state_dir / "redis"
        self.redis_conf = self.state_dir / "redis.conf"
        self.redis_pidfile = self.state_dir / "redis.pid"
        self.redis_log = self.state_dir / "redis.log"

    # -- the runtime interface ---------------------------------------------------------------

    def up(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float = 60.0,
        progress: Progress | None = None,
        profiles: Sequence[str] = (),
        wait: bool = True,
    ) -> StackResult:
        # Profiles only add services this runtime does not run. It always waits: the database
        # is created once PostgreSQL answers.
        wanted = self._wanted(services)
        say = progress or (lambda _msg: None)
        deadline = time.monotonic() + timeout
        running = {s for s in wanted if self._pid(s) is not None}
        self._check_running_ports(running)
        to_start = [s for s in wanted if s not in running]
        claims = {
            "timescaledb": PortClaim("timescaledb", "POSTGRES_PORT", self.settings.postgres_port),
            "redis": PortClaim("redis", "REDIS_PORT", self.settings.redis_port),
        }
        ensure_ports_free([claims[s] for s in to_start])
        if to_start:
            self._prepare_state_dir()
        if "timescaledb" in to_start:
            self._start_postgres(deadline, say)
        if "redis" in to_start:
            self._start_redis(say)
        if "timescaledb" in wanted:
            say("waiting for PostgreSQL to accept the configured user")
            self._wait_postgres(deadline)
        if "redis" in wanted:
            say("waiting for Redis to answer PING")
            self._wait_redis(deadline)
        return StackResult(
            runtime=self.name,
            services=self._states(),
            started=to_start,
            already_running=[s for s in wanted if s in running],
        )

    def down(self, *, volumes: bool = False) -> StackResult:
        stopped = [s for s in PROVIDED if self._stop(s)]
        deleted = []
        if volumes:
            for path in self.volumes():
                shutil.rmtree(path) if Path(path).is_dir() else Path(path).unlink()
                deleted.append(path)
        return StackResult(self.name, self._states(), stopped=stopped, deleted=deleted)

    def ps(self) -> StackResult:
        return StackResult(self.name, self._states())

    def volumes(self) -> list[str]:
        paths = [self.pg_data, self.redis_dir, self.pg_log, self.redis_log, self.redis_conf]
        return [str(p) for p in paths if p.exists()]

    def restart(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float = 60.0,
        progress: Progress | None = None,
    ) -> StackResult:
        wanted = self._wanted(services)
        restarted = [s for s in wanted if self._stop(s)]
        result = self.up(wanted, timeout=timeout, progress=progress)
        started = [s for s in result.started if s not in restarted]  # was not running
        return replace(result, started=started, already_running=[], restarted=restarted)

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        wanted = self._wanted([service] if service else [])
        files = {"timescaledb": self.pg_log, "redis": self.redis_log}
        return _tail_files({s: files[s] for s in wanted}, follow=follow, tail=tail)

    def _stop(self, service: str) -> bool:
        """Stop one of our servers; False if it was not running."""
        pid = self._pid(service)
        if pid is None:
            return False
        if service == "timescaledb":
            result = self._run_pg(["pg_ctl", "stop", "-D", str(self.pg_data), "-m", "fast", "-w"])
            if result.returncode != 0:  # never report (or delete) a server that still runs
                detail = _scrubbed(result.stderr, self.settings) or "no output"
                raise OperationError(
                    f"PostgreSQL did not stop: {detail}", hint=f"see {self.pg_log}"
                )
        else:
            os.kill(pid, signal.SIGTERM)  # redis saves its snapshot on SIGTERM
            _wait_gone(pid, 30.0)
        return True

    # -- state -------------------------------------------------------------------------------

    def _wanted(self, services: Sequence[str]) -> list[str]:
        if not services:
            return list(PROVIDED)
        others = [s for s in services if s not in PROVIDED]
        if others:
            raise UsageError(
                f"the local runtime does not run {', '.join(others)}",
                hint="it runs timescaledb and redis; use --runtime compose for the others",
            )
        return [s for s in PROVIDED if s in services]

    def _pid(self, service: str) -> int | None:
        """The pid of our running server, or None (no pid file, or its process is gone)."""
        pidfile = (
            self.pg_data / "postmaster.pid" if service == "timescaledb" else self.redis_pidfile
        )
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        program = "postgres" if service == "timescaledb" else "redis-server"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if program.encode() in cmdline and _alive(pid) else None

    def _listening_port(self, service: str) -> int | None:
        try:
            if service == "timescaledb":
                return int((self.pg_data / "postmaster.pid").read_text().splitlines()[3])
            for line in self.redis_conf.read_text().splitlines():
                if line.startswith("port "):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def _check_running_ports(self, running: set[str]) -> None:
        configured = {
            "timescaledb": ("POSTGRES_PORT", self.settings.postgres_port),
            "redis": ("REDIS_PORT", self.settings.redis_port),
        }
        for service in sorted(running):
            setting, port = configured[service]
            actual = self._listening_port(service)
            if actual is not None and actual != port:
                raise OperationError(
                    f"{service} already runs from {self.state_dir} on port {actual}, "
                    f"but {setting} is {port}",
                    hint="run `macroinfra down` first, or set it back",
                )

    def _states(self) -> list[ServiceState]:
        states = []
        for service in SERVICES:
            if service not in PROVIDED:
                states.append(ServiceState(service, "not provided", detail=NOT_PROVIDED_DETAIL))
                continue
            pid = self._pid(service)
            port = self._listening_port(service)
            if pid is None:
                states.append(ServiceState(service, "stopped"))
            else:
                states.append(
                    ServiceState(
                        service, "running", ports=[f"127.0.0.1:{port}"], detail=f"pid {pid}"
                    )
                )
        return states

    # -- PostgreSQL --------------------------------------------------------------------------

    def _pg_user(self) -> _User | None:
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

    def _prepare_state_dir(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OperationError(
                f"cannot create the state folder {self.state_dir}: {exc.strerror}",
                hint="set MACROINFRA_STATE_DIR to a folder you can write",
            ) from None
        user = self._pg_user()
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

    def _bindir(self) -> Path:
        return find_pg_bindir(self.settings.pg_bindir)

    def _run_pg(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (as the postgres user when we are root)."""
        user = self._pg_user()
        extra: dict[str, Any] = {}
        if user is not None:
            extra = {"user": user.uid, "group": user.gid, "extra_groups": []}
        return subprocess.run(
            [str(self._bindir() / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            cwd=self.state_dir,
            check=False,
            **extra,
            **kwargs,
        )

    def _start_postgres(self, deadline: float, say: Progress) -> None:
        bindir = self._bindir()
        if not (self.pg_data / "PG_VERSION").exists():
            say(f"initialising a PostgreSQL cluster in {self.pg_data}")
            self._initdb()
        say(f"starting PostgreSQL {bindir.parent.name} on 127.0.0.1:{self.settings.postgres_port}")
        self.pg_log.touch(mode=0o600)
        if (user := self._pg_user()) is not None:
            os.chown(self.pg_log, user.uid, user.gid)
        wait = max(1, int(deadline - time.monotonic()))
        result = self._run_pg(
            [
                "pg_ctl",
                "start",
                "-D",
                str(self.pg_data),
                "-l",
                str(self.pg_log),
                "-w",
                "-t",
                str(wait),
                "-o",
                f"-p {self.settings.postgres_port}",
            ]
        )
        if result.returncode != 0:
            detail = _last_line(self.pg_log) or result.stderr
            raise ServiceUnavailable(
                f"PostgreSQL did not start: {_scrubbed(detail, self.settings)}",
                hint=f"see {self.pg_log}",
            )

    def _initdb(self) -> None:
        user = self._pg_user()
        if self.pg_data.exists():
            if any(self.pg_data.iterdir()):
                raise OperationError(
                    f"{self.pg_data} holds files but no PostgreSQL cluster (no PG_VERSION)",
                    hint="move it away, or run `macroinfra down --volumes` to start afresh",
                )
            self.pg_data.rmdir()  # left empty by an interrupted first start
        self.pg_data.mkdir(mode=0o700)
        pwfile = self.state_dir / ".pwfile"
        pwfile.touch(mode=0o600)
        result = None
        try:
            if user is not None:
                os.chown(self.pg_data, user.uid, user.gid)
                os.chown(pwfile, user.uid, user.gid)
            pwfile.write_text(self.settings.postgres_password.get_secret_value() + "\n")
            result = self._run_pg(
                [
                    "initdb",
                    "-D",
                    str(self.pg_data),
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
                shutil.rmtree(self.pg_data, ignore_errors=True)
        if result.returncode != 0:
            detail = (_scrubbed(result.stderr, self.settings) or "no output").splitlines()[-1]
            raise ServiceUnavailable(f"initdb failed: {detail}")
        with (self.pg_data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# macroinfra local runtime\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "shared_preload_libraries = 'timescaledb'\n"
                "max_connections = 100\n"
            )

    def _wait_postgres(self, deadline: float) -> None:
        import psycopg

        from macroinfra.db import connection_error

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
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (s.postgres_db,)
                    ).fetchone()
                    if not exists:
                        from psycopg import sql

                        conn.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(s.postgres_db))
                        )
                return
            except psycopg.OperationalError as exc:
                error = connection_error(
                    exc, s.postgres_host, s.postgres_port, s.postgres_user, "postgres"
                )
                if error.reason == "auth" or time.monotonic() > deadline:
                    raise error from None
                time.sleep(POLL_S)

    # -- Redis -------------------------------------------------------------------------------

    def _start_redis(self, say: Progress) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise ServiceUnavailable(
                "redis-server is not installed", hint="install it: apt-get install redis-server"
            )
        self.redis_dir.mkdir(exist_ok=True)
        lines = [
            "bind 127.0.0.1",
            f"port {self.settings.redis_port}",
            "daemonize yes",
            f"pidfile {_redis_quote(str(self.redis_pidfile))}",
            f"logfile {_redis_quote(str(self.redis_log))}",
            f"dir {_redis_quote(str(self.redis_dir))}",
            "save 3600 1 300 100 60 10000",
            "appendonly yes",  # as under compose: data survives `down` and a crash
        ]
        if self.settings.redis_password is not None:
            secret = self.settings.redis_password.get_secret_value()
            lines.append(f"requirepass {_redis_quote(secret)}")
        # The password goes in a file only we can read, never on a command line.
        self.redis_conf.touch(mode=0o600)
        self.redis_conf.write_text("\n".join(lines) + "\n")
        say(f"starting Redis on 127.0.0.1:{self.settings.redis_port}")
        result = subprocess.run(
            [server, str(self.redis_conf)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            errors = result.stderr.strip().splitlines()
            detail = _last_line(self.redis_log) or (errors[-1] if errors else "no output")
            raise ServiceUnavailable(
                f"redis-server did not start: {_scrubbed(detail, self.settings)}",
                hint=f"see {self.redis_log} and {self.redis_conf}",
            )

    def _wait_redis(self, deadline: float) -> None:
        import redis

        s = self.settings
        client = redis.Redis(
            host=s.redis_host,
            port=s.redis_port,
            db=s.redis_db,
            password=s.redis_password.get_secret_value() if s.redis_password else None,
            socket_connect_timeout=1,
            socket_timeout=1,
        )
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.AuthenticationError:
                    raise ServiceUnavailable(
                        f"Redis at {s.redis_host}:{s.redis_port} rejected the password",
                        hint="check REDIS_PASSWORD",
                    ) from None
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    if time.monotonic() > deadline:
                        raise ServiceUnavailable(
                            f"Redis did not answer on {s.redis_host}:{s.redis_port} in time",
                            hint=f"see {self.redis_log}",
                        ) from None
                    time.sleep(POLL_S)
        finally:
            client.close()


def find_pg_bindir(configured: Path | None = None) -> Path:
    """The newest PostgreSQL server with TimescaleDB installed (or the configured one)."""
    candidates = (
        [configured]
        if configured
        else [
            Path(p).parent
            for p in sorted(
                glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                key=lambda p: (
                    int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
                ),
                reverse=True,
            )
        ]
    )
    if not configured and (found := shutil.which("postgres")):
        candidates.append(Path(found).parent)
    servers = [c for c in candidates if (c / "postgres").exists()]
    if not servers:
        raise ServiceUnavailable(
            "no PostgreSQL server found" + (f" in {configured}" if configured else ""),
            hint="install postgresql-17 and postgresql-17-timescaledb (Debian 13), "
            "run scripts/install-system.sh, or set MACROINFRA_PG_BINDIR",
        )
    for bindir in servers:
        if _has_timescaledb(bindir):
            return bindir
    raise ServiceUnavailable(
        f"TimescaleDB is not installed for the PostgreSQL server in {servers[0]}",
        hint="install postgresql-<major>-timescaledb, or run scripts/install-system.sh",
    )


def _has_timescaledb(bindir: Path) -> bool:
    debian_share = Path("/usr/share/postgresql") / bindir.parent.name / "extension"
    if (debian_share / "timescaledb.control").exists():
        return True
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        return False
    sharedir = subprocess.run(
        [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(sharedir) and (Path(sharedir) / "extension" / "timescaledb.control").exists()


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


def _redis_quote(value: str) -> str:
    """A redis.conf string: backslash, quote and line breaks escaped, so a value stays one
    directive whatever characters it holds."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _scrubbed(text: str, settings: Settings) -> str:
    from macroinfra.redaction import Redactor

    return Redactor.for_settings(settings)(text.strip())


def _last_line(path: Path) -> str | None:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


def _tail_files(files: dict[str, Path], *, follow: bool, tail: int | None) -> Iterator[str]:
    """The last `tail` lines of each log file (prefixed by service when there are several);
    with `follow`, then every line appended, until interrupted."""
    prefix = len(files) > 1
    offsets: dict[str, int] = {}
    for service, path in files.items():
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        offsets[service] = len(data)
        lines = data.decode(errors="replace").splitlines()
        for line in lines if tail is None else lines[max(len(lines) - tail, 0) :]:
            yield f"{service} | {line}" if prefix else line
    while follow:
        grew = False
        for service, path in files.items():
            try:
                with path.open("rb") as f:
                    f.seek(offsets[service])
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # whole lines only; the rest is read next time
            if end:
                grew = True
                offsets[service] += end
                for line in data[:end].decode(errors="replace").splitlines():
                    yield f"{service} | {line}" if prefix else line
        if not grew:
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (nothing may reap a daemon here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(POLL_S)
    raise OperationError(f"process {pid} did not stop within {timeout:.0f} s")
