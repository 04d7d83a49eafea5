"""The compose runtime: the five-service stack under Docker Compose, via python-on-whales.

Every Docker call goes through one python-on-whales `DockerClient` made by `client_factory`
(tests pass a recording double of it), inside `docker_errors`, so a failure is one line.

`up` starts the containers with `compose up --detach`, then waits itself, polling every
POLL_S, until each service is healthy (and MinIO's one-shot bucket creator has exited 0). It
does not use `compose up --wait`: that counts the one-shot's clean exit as a failure, and
waiting here gives per-service progress and, on failure, the failing service's logs and last
healthcheck output.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.errors import ConfigError, MacroinfraError, OperationError, ServiceUnhealthy
from macroinfra.runtime.base import Progress, Runtime, ServiceState, StackResult, validate_services
from macroinfra.runtime.compose import containers, engine
from macroinfra.runtime.compose.containers import ONE_SHOTS, ContainerInfo
from macroinfra.runtime.compose.errors import DOLLAR_IN_ENV, docker_errors, unset_variable_warning
from macroinfra.runtime.ports import PortClaim, ensure_ports_free
from macroinfra.services import PROFILES, SERVICE_TABLE, SERVICES, Service, service

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from macroinfra.redaction import Redactor
    from macroinfra.settings import Settings

PROJECT = "macroinfra"  # the Compose project name (also `name:` in the compose file)
COMPOSE_FILE = "docker-compose.yml"
POLL_S = 0.25  # health polling interval: `up` returns within ~POLL_S + one poll of readiness
LOG_LINES = 20  # log lines shown for a service that did not become ready
_LAYER_LINE = re.compile(r"^[0-9a-f]{12}\s")  # image layer progress while pulling

ClientFactory = Callable[..., "DockerClient"]


def compose_file() -> Path:
    from macroinfra.resources import compose_dir

    return compose_dir() / COMPOSE_FILE


def published_address(row: Service, value: str) -> tuple[str, int]:
    """`ip:port` from MINIO_ENDPOINT or KAFKA_BOOTSTRAP_SERVERS: the compose file publishes
    MinIO and Kafka on exactly the address clients are given, so it must be one IP and port."""
    from macroinfra.settings import split_host_port

    variable = row.address_setting
    try:
        host, port = split_host_port(value)
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"{variable} must be ip:port, not {value!r}",
            hint=f"for the compose runtime {variable} is where the service is published: "
            f"one ip:port, e.g. 127.0.0.1:{row.default_port}",
        ) from None
    return host, port


class ComposeRuntime(Runtime):
    name = "compose"

    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.settings = settings
        self.compose_file = compose_file()
        # The same .env the settings were read from, so one file drives both.
        self.env_files = [settings.env_file] if settings.env_file else []
        self._client_factory = client_factory or engine.docker_client

    def client(self, profiles: Sequence[str]) -> DockerClient:
        return self._client_factory(
            compose_files=[self.compose_file],
            compose_project_name=PROJECT,
            compose_env_files=list(self.env_files),
            compose_profiles=list(profiles),
        )

    # -- what it runs, and where -----------------------------------------------------------------

    def provided(self, profiles: Sequence[str] = ()) -> tuple[str, ...]:
        return tuple(s.name.value for s in SERVICE_TABLE if s.profile in (None, *profiles))

    def skip_reason(self, service_name: str) -> str:
        profile = service(service_name).profile
        if profile is None:
            return f"not provided by the {self.name} runtime"
        return f"not provided: the {self.name} runtime runs it only with --profile {profile}"

    def port_claims(self, services: Sequence[str]) -> list[PortClaim]:
        """Where the compose file publishes each service: a port setting on 127.0.0.1
        ("127.0.0.1:${POSTGRES_PORT}:5432"), an address setting on that very address."""
        claims = []
        for row in map(service, services):
            value = getattr(self.settings, row.address_setting.lower())
            if isinstance(value, int):
                claims.append(PortClaim(row.name.value, row.address_setting, value))
            else:
                host, port = published_address(row, value)
                claims.append(PortClaim(row.name.value, row.address_setting, port, host))
        return claims

    # -- the runtime interface -------------------------------------------------------------------

    def _up(
        self, names: list[str], profiles: list[str], *, timeout: float, say: Progress, wait: bool
    ) -> StackResult:
        active = list(profiles)
        for s in names:  # naming a profile's service enables its profile
            if (profile := service(s).profile) is not None and profile not in active:
                active.append(profile.value)
        wanted = names or list(self.provided(active))
        claims = self.port_claims(wanted)  # bad MINIO_ENDPOINT etc.: before Docker

        client = self.client(active)
        before = self._snapshot(client)
        running = [s for s in wanted if (c := before.get(s)) is not None and c.running]
        ensure_ports_free(
            [c for c in claims if (i := before.get(c.service)) is None or not i.publishes(c)]
        )
        say("starting containers")
        dollar = False  # Compose warned of a `$` in .env: explained once, in the result
        with docker_errors("up", self._redact):
            stream = client.compose.up(containers.targets(names), detach=True, stream_logs=True)
            for _source, raw in stream:
                line = raw.decode(errors="replace").strip()
                if unset_variable_warning(line):
                    dollar = True
                elif line and not _LAYER_LINE.match(line):
                    say(self._redact(line))
        after = self._wait(client, wanted, timeout, say) if wait else self._snapshot(client)
        return StackResult(
            runtime=self.name,
            services=self._states(after),
            message=DOLLAR_IN_ENV if dollar else None,
            started=[s for s in wanted if s not in running],
            already_running=running,
        )

    def _down(self, *, volumes: bool = False) -> StackResult:
        client = self.client(list(PROFILES))  # every profile's services, not only the defaults
        before = self._snapshot(client)
        doomed = self._volumes(client) if volumes else []
        with docker_errors("down", self._redact):
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
        targets = containers.targets(names) or []

        def lines() -> Iterator[str]:
            with docker_errors("logs", self._redact):
                stream = client.compose.logs(
                    targets,
                    tail=None if tail is None else str(tail),
                    follow=follow,
                    stream=True,
                )
                for _source, raw in stream:
                    yield self._redact(raw.decode(errors="replace").rstrip("\n"))

        return lines()

    def _restart(self, names: list[str], *, timeout: float, say: Progress) -> StackResult:
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
        with docker_errors("restart", self._redact):
            client.compose.restart(containers.targets(wanted))
        after = self._wait(client, wanted, timeout, say)
        return StackResult(self.name, self._states(after), restarted=wanted)

    # -- Docker state ----------------------------------------------------------------------------

    def _snapshot(self, client: DockerClient) -> dict[str, ContainerInfo]:
        """This project's containers by service: one `compose ps`, then one `docker inspect`
        per container, run side by side so a poll costs about two docker processes."""
        from concurrent.futures import ThreadPoolExecutor

        from python_on_whales.exceptions import NoSuchContainer

        def inspect(container: Any) -> ContainerInfo | None:
            try:
                return containers.container_info(container)
            except NoSuchContainer:  # removed between ps and inspect
                return None

        with docker_errors("ps", self._redact):
            found = client.compose.ps(all=True)
            if len(found) > 1:
                with ThreadPoolExecutor(max_workers=len(found)) as pool:
                    infos = list(pool.map(inspect, found))
            else:
                infos = [inspect(c) for c in found]
        return {info.service: info for info in infos if info is not None}

    def _volumes(self, client: DockerClient) -> list[str]:
        with docker_errors("volume ls", self._redact):
            found = client.volume.list(filters=[("label", f"com.docker.compose.project={PROJECT}")])
        return sorted(str(v) for v in found)

    def _wait(
        self, client: DockerClient, services: Sequence[str], timeout: float, say: Progress
    ) -> dict[str, ContainerInfo]:
        """Poll until every service is ready; raise ServiceUnhealthy on a failure or timeout."""
        deadline = time.monotonic() + timeout
        checks = containers.checks(services)
        while True:
            snap = self._snapshot(client)
            verdicts = [(s, c, *containers.verdict(snap.get(c), one_shot=o)) for s, c, o in checks]
            failed = [(c, why) for _s, c, v, why in verdicts if v == containers.FAILED]
            if failed:
                raise ServiceUnhealthy(
                    "; ".join(f"{c} {why}" for c, why in failed),
                    hint="fix the cause above, then run `macroinfra up` again; "
                    "`macroinfra logs SERVICE` shows more",
                    problems=self._diagnose(client, [c for c, _ in failed], snap),
                )
            waiting = {s: (c, why) for s, c, v, why in verdicts if v == containers.WAITING}
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
        self, client: DockerClient, names: Sequence[str], snap: dict[str, ContainerInfo]
    ) -> list[str]:
        """The last healthcheck output and log lines of each container."""
        lines = []
        for name in names:
            info = snap.get(name)
            if info is not None and info.health_output:
                output = " / ".join(info.health_output.splitlines()[-3:])
                lines.append(f"{name} last healthcheck: {self._redact(output)}")
            try:
                with docker_errors("logs", self._redact):
                    text = client.compose.logs([name], tail=str(LOG_LINES))
            except MacroinfraError:
                lines.append(f"{name} logs: unavailable")
                continue
            log = [ln for ln in text.splitlines() if ln.strip()]
            lines.append(f"{name} last {len(log)} log lines:" if log else f"{name} logs: empty")
            lines.extend(f"  {self._redact(ln)}" for ln in log)
        return lines

    def _states(self, snap: dict[str, ContainerInfo]) -> list[ServiceState]:
        states = []
        for name in SERVICES:
            info = snap.get(name)
            if info is None:
                profile = service(name).profile
                hint = f"profile {profile}: `macroinfra up --profile {profile}`"
                states.append(ServiceState(name, "not created", detail=hint if profile else None))
                continue
            detail = None
            if info.ended:
                detail = f"exited with code {info.exit_code}"
            elif name in ONE_SHOTS:
                helper = snap.get(ONE_SHOTS[name])
                detail = containers.one_shot_detail(name, self.settings.minio_bucket, helper)
            states.append(ServiceState(name, info.status, info.health, list(info.ports), detail))
        return states

    @cached_property
    def _redact(self) -> Redactor:
        from macroinfra.redaction import Redactor

        return Redactor.for_settings(self.settings)
