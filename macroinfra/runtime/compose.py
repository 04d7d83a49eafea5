"""The compose runtime: the five-service stack under Docker Compose, via python-on-whales.

Every Docker call goes through one python-on-whales `DockerClient` made by `client_factory`
(tests pass a recording double of it). python-on-whales' exceptions carry the full command
line, so they are never shown: `_docker()` turns each into one line with a hint.

`up` starts the containers with `compose up --detach`, then waits itself, polling every
POLL_S, until each service is healthy (and MinIO's one-shot bucket creator has exited 0). It
does not use `compose up --wait`: that counts the one-shot's clean exit as a failure, and
waiting here gives per-service progress and, on failure, the failing service's logs and last
healthcheck output.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.errors import (
    ConfigError,
    MacroinfraError,
    OperationError,
    ServiceUnavailable,
    ServiceUnhealthy,
)
from macroinfra.runtime.base import (
    PROFILES,
    SERVICES,
    Progress,
    ServiceState,
    StackResult,
    validate_profiles,
    validate_services,
)
from macroinfra.runtime.ports import PortClaim, ensure_ports_free

if TYPE_CHECKING:
    from macroinfra.settings import Settings

DOCKER_SOCKET = "/var/run/docker.sock"
PROJECT = "macroinfra"  # the Compose project name (also `name:` in the compose file)
COMPOSE_FILE = "docker-compose.yml"
POLL_S = 0.25  # health polling interval: `up` returns within ~POLL_S + one poll of readiness
LOG_LINES = 20  # log lines shown for a service that did not become ready
# One-shot helpers: the service counts as ready only once its helper has exited 0.
ONE_SHOTS: dict[str, str] = {"minio": "minio-init"}
SERVICE_LABEL = "com.docker.compose.service"

ClientFactory = Callable[..., Any]


def docker_engine_reachable(timeout: float = 0.5) -> bool:
    """Does a Docker engine answer? Pings the engine's socket directly: no `docker` process."""
    host = os.environ.get("DOCKER_HOST", f"unix://{DOCKER_SOCKET}")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            hostport = host.removeprefix("tcp://").rstrip("/")
            name, _, port = hostport.rpartition(":")
            sock = socket.create_connection((name, int(port)), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]
    except (OSError, ValueError):
        return False


def compose_file() -> Path:
    from macroinfra.resources import compose_dir

    return compose_dir() / COMPOSE_FILE


def docker_client(**config: Any) -> Any:
    """The real client: python-on-whales' DockerClient (imported only when Docker is used)."""
    from python_on_whales import DockerClient

    return DockerClient(**config)


# -- published ports -----------------------------------------------------------------------------


def published_address(variable: str, value: str) -> tuple[str, int]:
    """`ip:port` from MINIO_ENDPOINT or KAFKA_BOOTSTRAP_SERVERS: the compose file publishes
    MinIO and Kafka on exactly the address clients are given, so it must be one IP and port."""
    hint = f"for the compose runtime {variable} is where the service is published: one ip:port, "
    hint += "e.g. 127.0.0.1:" + ("9000" if variable == "MINIO_ENDPOINT" else "9092")
    host, _, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{variable} must be ip:port, not {value!r}", hint=hint) from None
    return host, number


def port_claims(settings: Settings, services: Sequence[str]) -> list[PortClaim]:
    """The host address each service publishes, with the variable that moves it."""
    s = settings
    claims = []
    for service in services:
        if service == "timescaledb":
            claims.append(PortClaim(service, "POSTGRES_PORT", s.postgres_port))
        elif service == "redis":
            claims.append(PortClaim(service, "REDIS_PORT", s.redis_port))
        elif service == "mongodb":
            claims.append(PortClaim(service, "MONGO_PORT", s.mongo_port))
        elif service == "minio":
            host, port = published_address("MINIO_ENDPOINT", s.minio_endpoint)
            claims.append(PortClaim(service, "MINIO_ENDPOINT", port, host))
        elif service == "kafka":
            host, port = published_address("KAFKA_BOOTSTRAP_SERVERS", s.kafka_bootstrap_servers)
            claims.append(PortClaim(service, "KAFKA_BOOTSTRAP_SERVERS", port, host))
    return claims


# -- what Docker says about a container ----------------------------------------------------------


@dataclass(frozen=True)
class ContainerInfo:
    service: str
    status: str  # Docker's: created, running, restarting, paused, exited, dead
    health: str | None = None  # starting, healthy, unhealthy; None without a healthcheck
    exit_code: int | None = None
    health_output: str | None = None  # the last healthcheck's output
    ports: tuple[str, ...] = ()  # "127.0.0.1:5432->5432/tcp"

    @property
    def running(self) -> bool:
        return self.status == "running"


def _container_info(container: Any) -> ContainerInfo | None:
    state = container.state  # one `docker inspect`; the reads below reuse its result
    labels = container.config.labels or {}
    raw_ports = container.network_settings.ports or {}
    service = labels.get(SERVICE_LABEL)
    if service is None:
        return None
    health = state.health
    log = (health.log or []) if health is not None else []
    output = (log[-1].output or "").strip() if log else ""
    ports = []
    for target, bindings in sorted(raw_ports.items()):
        for b in bindings or []:
            host_ip = b.get("HostIp") or "0.0.0.0"
            host_ip = f"[{host_ip}]" if ":" in host_ip else host_ip
            ports.append(f"{host_ip}:{b.get('HostPort')}->{target}")
    return ContainerInfo(
        service=service,
        status=state.status or "unknown",
        health=health.status if health is not None else None,
        exit_code=state.exit_code,
        health_output=output or None,
        ports=tuple(ports),
    )


def _publishes(info: ContainerInfo | None, claim: PortClaim) -> bool:
    """Is this claim's address already published by our own running container?"""
    if info is None or info.status != "running":
        return False
    host = f"[{claim.host}]" if ":" in claim.host else claim.host
    return any(p.startswith(f"{host}:{claim.port}->") for p in info.ports)


READY, WAITING, FAILED = "ready", "waiting", "failed"


def _verdict(info: ContainerInfo | None, *, one_shot: bool) -> tuple[str, str]:
    """(READY | WAITING | FAILED, why) for one container."""
    if info is None:
        return WAITING, "not created yet"
    if info.status in ("exited", "dead"):
        if one_shot and info.exit_code == 0:
            return READY, "done"
        return FAILED, f"exited with code {info.exit_code}"
    if one_shot:
        return WAITING, info.status
    if info.status == "running":
        if info.health in (None, "healthy"):
            return READY, info.health or "running"
        if info.health == "unhealthy":
            return FAILED, "unhealthy"
        return WAITING, info.health or "starting"
    if info.status == "paused":
        return FAILED, "paused"
    return WAITING, info.status  # created, restarting


def _checks(services: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(service, container service, one-shot) for each container a service needs."""
    checks = []
    for s in services:
        checks.append((s, s, False))
        if s in ONE_SHOTS:
            checks.append((s, ONE_SHOTS[s], True))
    return checks


def _targets(services: Sequence[str]) -> list[str] | None:
    """Compose service names for the named services (None: all of the active profiles)."""
    if not services:
        return None
    return [*services, *(ONE_SHOTS[s] for s in services if s in ONE_SHOTS)]


# -- python-on-whales errors, as one line each ---------------------------------------------------

_NO_ENGINE = re.compile(
    r"Cannot connect to the Docker daemon(?: at (\S+?))?\.? Is the docker daemon running", re.I
)
_NO_PERMISSION = re.compile(
    r"permission denied while trying to connect to the Docker daemon socket(?: at (\S+?):\s)?",
    re.I,
)
_NO_COMPOSE = (
    "unknown command: docker compose",  # docker 24+ without the plugin
    "'compose' is not a docker command",  # older clients
    "unknown flag: --file",  # `docker compose --file ...` parsed by a client without it
    "unknown shorthand flag: 'f'",
)
_LAYER_LINE = re.compile(r"^[0-9a-f]{12}\s")  # image layer progress while pulling
# Compose reads `$name` inside an unquoted or double-quoted .env value as a variable and warns
# `The "name" variable is not set`, naming what follows the `$` (maybe part of a secret).
# Every variable of the compose file has a default, so such a warning always comes from .env.
_UNSET_VARIABLE = re.compile(r'The \\?"[^"]*?\\?" variable is not set')
DOLLAR_IN_ENV = (
    "Compose read a `$` in a .env value as a variable and dropped it, so a service got another "
    "value: put that value in single quotes in .env (NAME='value')"
)


def unset_variable_warning(line: str) -> bool:
    """Is this Compose's warning about a `$` in a .env value? It is never shown as it is."""
    return _UNSET_VARIABLE.search(line) is not None


def classify_docker_output(
    text: str, what: str, *, return_code: int | None = None, secrets: Sequence[str] = ()
) -> MacroinfraError:
    """One error for what `docker compose <what>` wrote before failing."""
    if m := _NO_ENGINE.search(text):
        where = f" at {m.group(1)}" if m.group(1) else ""
        return ServiceUnavailable(
            f"no Docker engine answers{where}",
            hint="start Docker (e.g. `sudo systemctl start docker`) or point DOCKER_HOST at a "
            "running engine; without Docker, use --runtime local",
        )
    if m := _NO_PERMISSION.search(text):
        where = f" {m.group(1)}" if m.group(1) else ""
        return ServiceUnavailable(
            f"permission denied on the Docker socket{where}",
            hint="add your user to the `docker` group and log in again, or run as a user "
            "allowed to use Docker",
        )
    if any(marker in text for marker in _NO_COMPOSE):
        return ServiceUnavailable(
            "the Docker Compose v2 plugin is not installed (`docker compose` does not exist)",
            hint="install Docker's Compose plugin (package docker-compose-plugin, or "
            "docker-compose on Debian 13), or use --runtime local",
        )
    return OperationError(
        f"docker compose {what} failed: {_scrub(_error_line(text, return_code), secrets)}",
        hint="see `macroinfra ps` and `macroinfra logs SERVICE`",
    )


def _error_line(text: str, return_code: int | None) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Usage:", "Run 'docker"))]
    lines = [ln for ln in lines if not unset_variable_warning(ln)]  # may quote a secret's part
    errors = [ln for ln in lines if "error" in ln.lower()]
    line = (errors or lines or [f"exit code {return_code}"])[-1]
    return line if len(line) <= 300 else line[:297] + "..."


def _scrub(text: str, secrets: Sequence[str]) -> str:
    from macroinfra.redaction import Redactor

    return Redactor(secrets)(text)


# -- the runtime ---------------------------------------------------------------------------------


class ComposeRuntime:
    name = "compose"

    def __init__(
        self,
        settings: Settings,
        *,
        env_file: Path | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        from macroinfra.settings import resolve_env_file

        self.settings = settings
        self.compose_file = compose_file()
        path, _named = resolve_env_file(env_file)
        # The same .env the settings were read from, so one file drives both.
        self.env_files = [path.absolute()] if path.is_file() else []
        self._client_factory = client_factory or docker_client

    def client(self, profiles: Sequence[str]) -> Any:
        return self._client_factory(
            compose_files=[self.compose_file],
            compose_project_name=PROJECT,
            compose_env_files=list(self.env_files),
            compose_profiles=list(profiles),
        )

    # -- the runtime interface -------------------------------------------------------------------

    def up(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float = 120.0,
        progress: Progress | None = None,
        profiles: Sequence[str] = (),
        wait: bool = True,
    ) -> StackResult:
        names = validate_services(services)
        active = validate_profiles(profiles)
        for profile, members in PROFILES.items():  # naming a profile's service enables it
            if profile not in active and any(s in members for s in names):
                active.append(profile)
        optional = {s for p, members in PROFILES.items() if p not in active for s in members}
        wanted = names or [s for s in SERVICES if s not in optional]
        claims = port_claims(self.settings, wanted)  # bad MINIO_ENDPOINT etc.: before Docker
        say = progress or (lambda _msg: None)

        client = self.client(active)
        before = self._snapshot(client)
        running = [s for s in wanted if (c := before.get(s)) is not None and c.running]
        ensure_ports_free([c for c in claims if not _publishes(before.get(c.service), c)])
        say("starting containers")
        secrets = self._secrets()
        dollar = False  # Compose warned of a `$` in .env: explained once, in the result
        with self._docker("up"):
            for _source, raw in client.compose.up(_targets(names), detach=True, stream_logs=True):
                line = raw.decode(errors="replace").strip()
                if unset_variable_warning(line):
                    dollar = True
                elif line and not _LAYER_LINE.match(line):
                    say(_scrub(line, secrets))
        if wait:
            after = self._wait(client, wanted, timeout, say)
        else:
            after = self._snapshot(client)
        return StackResult(
            runtime=self.name,
            services=self._states(after),
            message=DOLLAR_IN_ENV if dollar else None,
            started=[s for s in wanted if s not in running],
            already_running=running,
        )

    def down(self, *, volumes: bool = False) -> StackResult:
        client = self.client(list(PROFILES))  # every profile's services, not only the defaults
        before = self._snapshot(client)
        doomed = self._volumes(client) if volumes else []
        with self._docker("down"):
            client.compose.down(remove_orphans=True, volumes=volumes, quiet=True)
        return StackResult(
            runtime=self.name,
            services=self._states({}),
            stopped=[s for s in SERVICES if (c := before.get(s)) is not None and c.running],
            deleted=doomed,
        )

    def ps(self) -> StackResult:
        return StackResult(self.name, self._states(self._snapshot(self.client(list(PROFILES)))))

    def volumes(self) -> list[str]:
        return self._volumes(self.client(list(PROFILES)))

    def logs(
        self, service: str | None = None, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        names = validate_services([service] if service else [])
        client = self.client(list(PROFILES))
        # Asked first, so a missing engine is one clear error: a failing log stream would
        # pass Docker's complaint through as a log line before failing.
        present = self._snapshot(client)
        if service and service not in present:
            raise OperationError(
                f"{service} is not created, so it has no logs",
                hint=f"start it with `macroinfra up {service}`",
            )
        targets = _targets(names) or []
        secrets = self._secrets()

        def lines() -> Iterator[str]:
            with self._docker("logs"):
                stream = client.compose.logs(
                    targets,
                    tail=None if tail is None else str(tail),
                    follow=follow,
                    stream=True,
                )
                for _source, raw in stream:
                    yield _scrub(raw.decode(errors="replace").rstrip("\n"), secrets)

        return lines()

    def restart(
        self,
        services: Sequence[str] = (),
        *,
        timeout: float = 120.0,
        progress: Progress | None = None,
    ) -> StackResult:
        names = validate_services(services)
        say = progress or (lambda _msg: None)
        client = self.client(list(PROFILES))
        before = self._snapshot(client)
        missing = [s for s in names if s not in before]
        if missing:
            raise OperationError(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not created",
                hint=f"start {'it' if len(missing) == 1 else 'them'} with "
                f"`macroinfra up {' '.join(missing)}`",
            )
        wanted = names or [s for s in SERVICES if s in before]
        if not wanted:
            raise OperationError(
                "nothing to restart: the stack is not created", hint="run `macroinfra up`"
            )
        say(f"restarting {', '.join(wanted)}")
        with self._docker("restart"):
            client.compose.restart(_targets(wanted))
        after = self._wait(client, wanted, timeout, say)
        return StackResult(self.name, self._states(after), restarted=wanted)

    # -- Docker state ----------------------------------------------------------------------------

    def _snapshot(self, client: Any) -> dict[str, ContainerInfo]:
        """This project's containers by service: one `compose ps`, then one `docker inspect`
        per container, run side by side so a poll costs about two docker processes."""
        from concurrent.futures import ThreadPoolExecutor

        from python_on_whales.exceptions import NoSuchContainer

        def inspect(container: Any) -> ContainerInfo | None:
            try:
                return _container_info(container)
            except NoSuchContainer:  # removed between ps and inspect
                return None

        with self._docker("ps"):
            containers = client.compose.ps(all=True)
            if len(containers) > 1:
                with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                    infos = list(pool.map(inspect, containers))
            else:
                infos = [inspect(c) for c in containers]
        return {info.service: info for info in infos if info is not None}

    def _volumes(self, client: Any) -> list[str]:
        with self._docker("volume ls"):
            found = client.volume.list(filters=[("label", f"com.docker.compose.project={PROJECT}")])
        return sorted(str(v) for v in found)

    def _wait(
        self, client: Any, services: Sequence[str], timeout: float, say: Progress
    ) -> dict[str, ContainerInfo]:
        """Poll until every service is ready; raise ServiceUnhealthy on a failure or timeout."""
        deadline = time.monotonic() + timeout
        checks = _checks(services)
        while True:
            snap = self._snapshot(client)
            verdicts = [(s, c, *_verdict(snap.get(c), one_shot=o)) for s, c, o in checks]
            failed = [(c, why) for _s, c, v, why in verdicts if v == FAILED]
            if failed:
                what = "; ".join(f"{c} {why}" for c, why in failed)
                raise ServiceUnhealthy(
                    what,
                    hint="fix the cause above, then run `macroinfra up` again; "
                    "`macroinfra logs SERVICE` shows more",
                    problems=self._diagnose(client, [c for c, _ in failed], snap),
                )
            waiting = {s: (c, why) for s, c, v, why in verdicts if v == WAITING}
            if not waiting:
                return snap
            now = time.monotonic()
            if now >= deadline:
                raise ServiceUnhealthy(
                    f"not ready after {timeout:g} s: "
                    + ", ".join(f"{s} ({why})" for s, (_c, why) in waiting.items()),
                    hint="`macroinfra logs SERVICE` shows more; on a slow machine or a first "
                    "start, raise --timeout",
                    problems=self._diagnose(client, [c for c, _ in waiting.values()], snap),
                )
            ready = len(services) - len(waiting)
            say(
                f"waiting for {', '.join(f'{s} ({why})' for s, (_c, why) in waiting.items())}"
                f" - {ready}/{len(services)} ready"
            )
            time.sleep(min(POLL_S, deadline - now))

    def _diagnose(
        self, client: Any, containers: Sequence[str], snap: dict[str, ContainerInfo]
    ) -> list[str]:
        """The last healthcheck output and log lines of each container."""
        secrets = self._secrets()
        lines = []
        for name in containers:
            info = snap.get(name)
            if info is not None and info.health_output:
                output = " / ".join(info.health_output.splitlines()[-3:])
                lines.append(f"{name} last healthcheck: {_scrub(output, secrets)}")
            try:
                with self._docker("logs"):
                    text = client.compose.logs([name], tail=str(LOG_LINES))
            except MacroinfraError:
                lines.append(f"{name} logs: unavailable")
                continue
            log = [ln for ln in text.splitlines() if ln.strip()]
            lines.append(f"{name} last {len(log)} log lines:" if log else f"{name} logs: empty")
            lines.extend(f"  {_scrub(ln, secrets)}" for ln in log)
        return lines

    def _states(self, snap: dict[str, ContainerInfo]) -> list[ServiceState]:
        states = []
        for service in SERVICES:
            info = snap.get(service)
            if info is None:
                profile = next((p for p, m in PROFILES.items() if service in m), None)
                hint = f"profile {profile}: `macroinfra up --profile {profile}`"
                states.append(
                    ServiceState(service, "not created", detail=hint if profile else None)
                )
                continue
            detail = None
            if info.status in ("exited", "dead"):
                detail = f"exited with code {info.exit_code}"
            elif service in ONE_SHOTS:
                detail = self._one_shot_detail(service, snap.get(ONE_SHOTS[service]))
            states.append(ServiceState(service, info.status, info.health, list(info.ports), detail))
        return states

    def _one_shot_detail(self, service: str, helper: ContainerInfo | None) -> str:
        name = ONE_SHOTS[service]
        bucket = f"bucket {self.settings.minio_bucket}"
        if helper is None:
            return f"{bucket}: {name} has not run"
        if helper.status == "exited" and helper.exit_code == 0:
            return f"{bucket} ready"
        if helper.status in ("exited", "dead"):
            return f"{bucket} not created: {name} exited with code {helper.exit_code}"
        return f"{bucket}: {name} {helper.status}"

    # -- errors ----------------------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        from macroinfra.redaction import Redactor

        return Redactor.for_settings(self.settings).secrets

    @contextmanager
    def _docker(self, what: str) -> Iterator[None]:
        """Turn python-on-whales' exceptions (which hold the whole command line) into one line."""
        from python_on_whales.client_config import ClientNotFoundError
        from python_on_whales.exceptions import DockerException

        try:
            yield
        except ClientNotFoundError:
            raise ServiceUnavailable(
                "no `docker` command on PATH",
                hint="install the Docker client and its Compose plugin, or use --runtime local",
            ) from None
        except DockerException as exc:
            text = "\n".join(t for t in (exc.stderr, exc.stdout) if t)
            raise classify_docker_output(
                text, what, return_code=exc.return_code, secrets=self._secrets()
            ) from None
