"""A test double of python-on-whales' DockerClient, for the compose runtime's boundary only.

There is no Docker engine on these machines, so the calls the compose runtime makes are checked
against this double: `RecordingDockerClient` records every call with its arguments and the
client configuration it was made with (compose files, project, env files, profiles), and
answers from a scripted engine (`FakeEngine`). Containers are built from `docker inspect`-shaped
JSON and parsed by python-on-whales' own model, so the runtime reads them exactly as it reads
real ones. Failures are python-on-whales' own exception type, carrying a command line as the
real ones do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from python_on_whales.components.container.models import ContainerInspectResult
from python_on_whales.exceptions import DockerException

# The published port of each service, as the compose file maps it by default.
TARGET_PORTS = {"timescaledb": 5432, "redis": 6379, "mongodb": 27017, "minio": 9000, "kafka": 9092}
FAKE_COMMAND = [
    "/usr/bin/docker",
    "compose",
    "--file",
    "/x/docker-compose.yml",
    "--project-name",
    "macroinfra",
    "up",
    "--detach",
]


def inspect_json(
    service: str,
    status: str = "running",
    health: str | None = "healthy",
    *,
    exit_code: int = 0,
    health_output: str = "",
    host_port: int | None = None,
    host_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """What `docker inspect` says about one of the project's containers."""
    state: dict[str, Any] = {
        "Status": status,
        "Running": status == "running",
        "ExitCode": exit_code,
    }
    if health is not None:
        state["Health"] = {
            "Status": health,
            "FailingStreak": 0,
            "Log": [{"ExitCode": 0 if health == "healthy" else 1, "Output": health_output}],
        }
    ports: dict[str, Any] = {}
    if service in TARGET_PORTS and status == "running":
        target = TARGET_PORTS[service]
        ports[f"{target}/tcp"] = [{"HostIp": host_ip, "HostPort": str(host_port or target)}]
    return {
        "Id": f"{service}-id",
        "Name": f"/macroinfra-{service}-1",
        "State": state,
        "Config": {
            "Labels": {
                "com.docker.compose.service": service,
                "com.docker.compose.project": "macroinfra",
            }
        },
        "NetworkSettings": {"Ports": ports},
    }


class FakeContainer:
    """A container as python-on-whales hands it out (state, config, network_settings)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._inspect = ContainerInspectResult(**data)

    @property
    def state(self) -> Any:
        return self._inspect.state

    @property
    def config(self) -> Any:
        return self._inspect.config

    @property
    def network_settings(self) -> Any:
        return self._inspect.network_settings


@dataclass
class Call:
    api: str  # e.g. "compose.up"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    config: dict[str, Any]  # the DockerClient(...) arguments of the client that made it

    @property
    def profiles(self) -> list[str]:
        return self.config["compose_profiles"]


@dataclass
class FakeEngine:
    """The engine the double answers from. Each service's container is a function returning
    its inspect JSON (or None: not created), asked once per `compose ps`."""

    containers: dict[str, Callable[[], dict[str, Any] | None]] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # service -> log text
    up_output: list[str] = field(default_factory=list)  # lines `compose up` writes
    failures: dict[str, DockerException] = field(default_factory=dict)  # api -> raised
    call_latency: float = 0.0  # seconds each call takes, as a `docker` process would (bench)
    calls: list[Call] = field(default_factory=list)
    configs: list[dict[str, Any]] = field(default_factory=list)

    def client(self, **config: Any) -> RecordingDockerClient:
        """The client factory handed to ComposeRuntime(client_factory=...)."""
        self.configs.append(config)
        return RecordingDockerClient(self, config)

    # -- scripting -------------------------------------------------------------------------------

    def set(self, service: str, *args: Any, **kwargs: Any) -> None:
        data = inspect_json(service, *args, **kwargs)
        self.containers[service] = lambda: data

    def sequence(self, service: str, states: list[dict[str, Any] | None]) -> None:
        """One state per `compose ps`; the last one repeats."""
        it = itertools.chain(states, itertools.repeat(states[-1]))
        self.containers[service] = lambda: next(it)

    def fail(self, api: str, stderr: str, return_code: int = 1) -> None:
        self.failures[api] = DockerException(FAKE_COMMAND, return_code, b"", stderr.encode())

    # -- what was called -------------------------------------------------------------------------

    def called(self, api: str) -> list[Call]:
        return [c for c in self.calls if c.api == api]

    def apis(self) -> list[str]:
        return [c.api for c in self.calls]

    def _record(self, api: str, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        self.calls.append(Call(api, args, kwargs, config))
        if self.call_latency:
            time.sleep(self.call_latency)
        if api in self.failures:
            raise self.failures[api]


class RecordingDockerClient:
    """Test double of python_on_whales.DockerClient: the compose, volume APIs the compose
    runtime uses, with python-on-whales' signatures, recording each call."""

    def __init__(self, engine: FakeEngine, config: dict[str, Any]) -> None:
        self.compose = _Compose(engine, config)
        self.volume = _Volume(engine, config)


class _Compose:
    def __init__(self, engine: FakeEngine, config: dict[str, Any]) -> None:
        self.engine, self.config = engine, config

    def ps(self, services: list[str] | None = None, all: bool = False) -> list[FakeContainer]:
        self.engine._record("compose.ps", self.config, services=services, all=all)
        found = []
        for state in self.engine.containers.values():
            data = state()
            if data is not None and (all or data["State"]["Status"] == "running"):
                found.append(FakeContainer(data))
        return found

    def up(self, services: list[str] | None = None, **kwargs: Any) -> Any:
        self.engine._record("compose.up", self.config, services, **kwargs)
        lines = [("stderr", f"{line}\n".encode()) for line in self.engine.up_output]
        return iter(lines) if kwargs.get("stream_logs") else None

    def down(self, services: list[str] | None = None, **kwargs: Any) -> None:
        self.engine._record("compose.down", self.config, services, **kwargs)

    def restart(self, services: list[str] | None = None, timeout: Any = None) -> None:
        self.engine._record("compose.restart", self.config, services, timeout=timeout)

    def logs(self, services: Any = (), **kwargs: Any) -> Any:
        self.engine._record("compose.logs", self.config, services, **kwargs)
        names = [services] if isinstance(services, str) else list(services)
        text = "".join(self.engine.logs.get(s, "") for s in names or self.engine.logs)
        if kwargs.get("tail") is not None:
            text = "".join(text.splitlines(keepends=True)[-int(kwargs["tail"]) :])
        if kwargs.get("stream"):
            return _stream(text)
        return text


def _stream(text: str) -> Iterator[tuple[str, bytes]]:
    for line in text.splitlines(keepends=True):
        yield "stdout", line.encode()


class _Volume:
    def __init__(self, engine: FakeEngine, config: dict[str, Any]) -> None:
        self.engine, self.config = engine, config

    def list(self, filters: Any = ()) -> list[str]:
        self.engine._record("volume.list", self.config, filters=filters)
        return list(self.engine.volumes)
