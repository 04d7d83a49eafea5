"""Redis as a local server: daemonized from a config file only we can read (it holds the
password), its data (snapshot and append-only file) in `<state>/redis`, which it works in:
that is how a pid in `redis.pid` is known to be ours."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from macroinfra.errors import ServiceUnavailable
from macroinfra.runtime.local.files import write_private
from macroinfra.runtime.local.processes import POLL_S, wait_gone
from macroinfra.runtime.local.server import LocalServer, log_since, log_size
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.runtime.base import Progress

STOP_TIMEOUT_S = 30.0  # it saves its snapshot before it exits


class RedisServer(LocalServer):
    service = ServiceName.REDIS
    program = "redis-server"
    folder = "redis"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "redis.pid"

    @property
    def conf(self) -> Path:
        """Its configuration, which only we can read: it holds the password."""
        return self.state_dir / "redis.conf"

    @property
    def data_paths(self) -> list[Path]:
        return [*super().data_paths, self.conf, self.pidfile]

    def _configured_port(self) -> int:
        # With TLS, `tls-port N` and `port 0` (no plain port).
        lines = self.conf.read_text().splitlines()
        ports = [int(ln.split()[1]) for ln in lines if ln.startswith(("port ", "tls-port "))]
        return max(ports)

    def _prepare(self, deadline: float) -> None:
        self._executable()
        self.data.mkdir(mode=0o700, exist_ok=True)
        # The password goes in a file only we can read, never on a command line.
        write_private(self.conf, self._config())

    def start(self, deadline: float, say: Progress) -> None:
        say(f"starting Redis on 127.0.0.1:{self.claim().port}")
        offset = log_size(self.log)
        # Redis creates its log, pid, snapshot and append-only files with the umask it has.
        result = subprocess.run(
            [self._executable(), str(self.conf)],
            capture_output=True,
            text=True,
            check=False,
            umask=0o077,
        )
        if result.returncode != 0:
            errors = result.stderr.strip().splitlines()
            detail = ([*errors, *log_since(self.log, offset)] or ["no output"])[-1]
            raise ServiceUnavailable(
                f"redis-server did not start: {self.redact(detail.strip())}",
                hint=f"see {self.log} and {self.conf}",
            )

    def _executable(self) -> str:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise ServiceUnavailable(
                "redis-server is not installed", hint="install it: apt-get install redis-server"
            )
        return server

    def _config(self) -> str:
        port = self.claim().port
        lines = [
            "bind 127.0.0.1",
            *(self._tls_lines(port) if self.settings.local_tls else [f"port {port}"]),
            "daemonize yes",
            f"pidfile {redis_quote(str(self.pidfile))}",
            f"logfile {redis_quote(str(self.log))}",
            f"dir {redis_quote(str(self.data))}",
            "save 3600 1 300 100 60 10000",
            "appendonly yes",  # as under compose: data survives `down` and a crash
        ]
        if self.settings.redis_password is not None:
            secret = self.settings.redis_password.get_secret_value()
            lines.append(f"requirepass {redis_quote(secret)}")
            user = self.settings.redis_username
            if user and user != "default":  # an ACL user, as a managed Redis has
                grant = f"on {redis_quote('>' + secret)} ~* &* +@all"
                lines.append(f"user {redis_quote(user)} {grant}")
        return "\n".join(lines) + "\n"

    def _tls_lines(self, port: int) -> list[str]:
        """TLS only, on the configured port, with the local runtime's certificates; clients
        are not asked for certificates of their own."""
        from macroinfra.connections.local import tls_folder

        folder = tls_folder(self.state_dir)
        return [
            "port 0",
            f"tls-port {port}",
            f"tls-cert-file {redis_quote(str(folder / 'server.crt'))}",
            f"tls-key-file {redis_quote(str(folder / 'server.key'))}",
            f"tls-ca-cert-file {redis_quote(str(folder / 'ca.crt'))}",
            "tls-auth-clients no",
        ]

    def wait_ready(self, deadline: float, say: Progress) -> None:
        """Ready once it answers PING with the configured password."""
        import redis

        say("waiting for Redis to answer PING")
        from macroinfra.connections.redis import make_client

        s = self.settings
        client = make_client(s, socket_connect_timeout=1, socket_timeout=1)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.AuthenticationError:
                    raise ServiceUnavailable(
                        f"Redis at {s.redis_host}:{s.redis_port} rejected the password",
                        hint="check REDIS_USERNAME and REDIS_PASSWORD",
                    ) from None
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    if time.monotonic() > deadline:
                        raise ServiceUnavailable(
                            f"Redis did not answer on {s.redis_host}:{s.redis_port} in time",
                            hint=f"see {self.log}",
                        ) from None
                    time.sleep(POLL_S)
        finally:
            client.close()

    def _terminate(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)  # redis saves its snapshot on SIGTERM
        wait_gone(pid, STOP_TIMEOUT_S)


def redis_quote(value: str) -> str:
    """A redis.conf string: backslash, quote and line breaks escaped, so a value stays one
    directive whatever characters it holds."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'
