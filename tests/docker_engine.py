"""A Docker engine for the compose tests and the compose bench, and the test images in it.

`find_or_start()` uses an engine that already answers (DOCKER_HOST, this module's private
socket, then the default socket), or starts Debian's `dockerd` as root on a private socket with
its own exec root, pid file and data root. The data root persists, so the images built into it
survive between runs; everything else is removed when it stops. The private engine leaves the
host as it found it: no firewall rules (`--iptables=false`), no `ip_forward` change, no
`docker0` bridge (`--bridge=none`; Compose's project network is a bridge of its own, removed by
`down`), and never the default socket, where other tests expect no engine to answer.

`build_test_images()` runs scripts/build-test-images.sh: local stand-ins for the pinned upstream
images, which are what users run.

Imported as `from docker_engine import ...` by tests and by bench/bench_compose_up.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PRIVATE_DIR = Path("/run/macroinfra-test-docker")
PRIVATE_HOST = f"unix://{PRIVATE_DIR / 'docker.sock'}"
EXEC_ROOT = PRIVATE_DIR / "exec"
PIDFILE = PRIVATE_DIR / "dockerd.pid"
LOG = PRIVATE_DIR / "dockerd.log"
DATA_ROOT = Path("/var/lib/macroinfra-test-docker")
DEFAULT_HOST = "unix:///var/run/docker.sock"
# What dockerd and its containerd create outside their own roots whatever their options; removed
# after stopping when they were not there before (folders only while they hold nothing else).
DOCKERD_LEFTOVERS = (Path("/etc/docker/key.json"), Path("/run/docker"), Path("/run/containerd"))
REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build-test-images.sh"
CANNOT_BUILD = 3  # build-test-images.sh's exit status when this machine cannot build them
PROJECT_LABEL = "com.docker.compose.project"
# dockerd, docker-proxy and debootstrap live in sbin folders, which a root shell may lack on PATH.
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class EngineUnavailable(Exception):
    """No engine can be used or started here; the message says why."""


def ping(host: str, timeout: float = 0.5) -> bool:
    """Does the engine at `unix://PATH` answer `GET /_ping`?"""
    if not host.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]


def wait_for(condition, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `condition` until it holds; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def _gone(pid: int) -> bool:
    """Has the process ended (exited, or a zombie nobody has reaped yet)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


@dataclass
class Engine:
    host: str  # the DOCKER_HOST value that reaches it
    process: subprocess.Popen | None = None  # the dockerd started here; None: found running
    _created: list[Path] = field(default_factory=list)

    @property
    def private(self) -> bool:
        return self.host == PRIVATE_HOST

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """The docker CLI against this engine (and nothing else)."""
        env = {**os.environ, **kwargs.pop("env", {}), **self.env}
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, check=check, env=env, **kwargs
        )

    def project_resources(self, project: str) -> dict[str, list[str]]:
        """Containers, networks and volumes that Compose labelled as `project`'s."""
        label = f"label={PROJECT_LABEL}={project}"
        found = {}
        for kind, args in (
            ("containers", ["ps", "--all", "--format", "{{.Names}}"]),
            ("networks", ["network", "ls", "--format", "{{.Name}}"]),
            ("volumes", ["volume", "ls", "--format", "{{.Name}}"]),
        ):
            listing = self.docker(*args, "--filter", label).stdout
            found[kind] = sorted(listing.split())
        return found

    def stop(self) -> None:
        """Stop the dockerd started here (by its pid) and wait until it and its containerd are
        gone; then remove what they left outside their data root. No-op for a found engine."""
        if self.process is None:
            return
        containerd = _read_pid(EXEC_ROOT / "containerd" / "containerd.pid")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if containerd is not None:  # dockerd stops the containerd it supervises; make sure
            with contextlib.suppress(TimeoutError):
                wait_for(lambda: _gone(containerd), 10, "containerd exit")
            if not _gone(containerd) and str(EXEC_ROOT) in _cmdline(containerd):
                os.kill(containerd, signal.SIGKILL)
                wait_for(lambda: _gone(containerd), 10, "containerd exit after SIGKILL")
        self.process = None
        for mount in _mounts_under(EXEC_ROOT, DATA_ROOT):  # normally none: dockerd unmounts
            subprocess.run(["umount", "--lazy", mount], check=False)
        # Its run folder (socket, pid file, log) goes too; the data root stays: it caches the
        # test images between runs.
        shutil.rmtree(PRIVATE_DIR, ignore_errors=True)
        for path in self._created:
            _remove_leftover(path)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _mounts_under(*roots: Path) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    inside = [p for p in points if any(p == str(r) or p.startswith(f"{r}/") for r in roots)]
    return sorted(inside, key=len, reverse=True)  # deepest first


def _remove_leftover(path: Path) -> None:
    if path.is_file():
        path.unlink()
        return
    if path.is_dir():  # only empty folders, deepest first: anything else is someone else's
        for folder in sorted((p for p in path.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            path.rmdir()


def why_cannot_start() -> str | None:
    if os.geteuid() != 0:
        return "starting a Docker engine needs root"
    if shutil.which("dockerd", path=SBIN_PATH) is None:
        return "no dockerd on PATH (scripts/install-system.sh installs docker.io)"
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    return None


def start() -> Engine:
    """Start dockerd on the private socket; return once it answers."""
    if reason := why_cannot_start():
        raise EngineUnavailable(reason)
    created = [p for p in DOCKERD_LEFTOVERS if not p.exists()]
    PRIVATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    DATA_ROOT.mkdir(mode=0o710, parents=True, exist_ok=True)
    stale = _read_pid(PIDFILE)  # a dockerd killed without cleaning up leaves its pid file
    if stale is not None and (_gone(stale) or "dockerd" not in _cmdline(stale)):
        PIDFILE.unlink()
    argv = [
        shutil.which("dockerd", path=SBIN_PATH),
        f"--host={PRIVATE_HOST}",
        f"--data-root={DATA_ROOT}",
        f"--exec-root={EXEC_ROOT}",
        f"--pidfile={PIDFILE}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        # Its own containerd namespace, should dockerd find a system containerd to share.
        "--containerd-namespace=macroinfra-test",
        "--containerd-plugins-namespace=macroinfra-test-plugins",
    ]
    with LOG.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "PATH": SBIN_PATH},  # it finds docker-proxy on PATH
        )
    engine = Engine(PRIVATE_HOST, process, created)
    try:
        wait_for(
            lambda: ping(PRIVATE_HOST) or process.poll() is not None,
            START_TIMEOUT_S,
            "dockerd answering on its private socket",
        )
    except TimeoutError:
        tail = _log_tail()
        engine.stop()
        raise EngineUnavailable(f"dockerd did not answer: {tail}") from None
    if process.poll() is not None:
        engine.process = None
        tail = _log_tail()
        shutil.rmtree(PRIVATE_DIR, ignore_errors=True)
        for path in created:
            _remove_leftover(path)
        raise EngineUnavailable(f"dockerd exited with {process.returncode}: {tail}")
    return engine


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _log_tail(lines: int = 5) -> str:
    try:
        text = LOG.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    return " / ".join(text[-lines:])


def find_or_start() -> Engine:
    """An engine that answers, or a private one started here. Found engines are never stopped."""
    for host in (os.environ.get("DOCKER_HOST"), PRIVATE_HOST, DEFAULT_HOST):
        if host and ping(host):
            return Engine(host)
    return start()


def compose_works(engine: Engine) -> str | None:
    """Why `docker compose` cannot drive this engine, or None."""
    out = engine.docker("compose", "version", check=False)
    if out.returncode != 0:
        return f"`docker compose version` failed: {out.stderr.strip()}"
    out = engine.docker("compose", "ls", "--all", check=False)  # reaches the engine
    if out.returncode != 0:
        return f"`docker compose ls` against {engine.host} failed: {out.stderr.strip()}"
    return None


def build_test_images(engine: Engine) -> dict[str, str]:
    """Run scripts/build-test-images.sh against `engine`: {variable: image}, e.g.
    {"TIMESCALEDB_IMAGE": "macroinfra-test/timescaledb:pg17-<hash>", "REDIS_IMAGE": ...}."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, **engine.env},
    )
    if out.returncode == CANNOT_BUILD:
        raise EngineUnavailable(out.stderr.strip().splitlines()[-1])
    if out.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT.name} failed:\n{out.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in out.stdout.split())
