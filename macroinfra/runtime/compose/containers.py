"""What Docker says about the project's containers, and whether each is ready.

A container is read once (`docker inspect`, through python-on-whales' model) into a
`ContainerInfo`; `verdict` tells `up` to wait on it, count it ready, or give up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from python_on_whales import Container

    from macroinfra.runtime.ports import PortClaim

SERVICE_LABEL = "com.docker.compose.service"
# One-shot helpers: the service counts as ready only once its helper has exited 0.
ONE_SHOTS: dict[str, str] = {"minio": "minio-init"}
READY, WAITING, FAILED = "ready", "waiting", "failed"


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

    @property
    def ended(self) -> bool:
        return self.status in ("exited", "dead")

    def publishes(self, claim: PortClaim) -> bool:
        """Does this running container already publish the claim's address?"""
        host = f"[{claim.host}]" if ":" in claim.host else claim.host
        return self.running and any(p.startswith(f"{host}:{claim.port}->") for p in self.ports)


def container_info(container: Container) -> ContainerInfo | None:
    """The container's service and state, or None for one that is not a Compose service."""
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


def verdict(info: ContainerInfo | None, *, one_shot: bool) -> tuple[str, str]:
    """(READY | WAITING | FAILED, why) for one container."""
    if info is None:
        return WAITING, "not created yet"
    if info.ended:
        if one_shot and info.exit_code == 0:
            return READY, "done"
        return FAILED, f"exited with code {info.exit_code}"
    if one_shot:
        return WAITING, info.status
    if info.running:
        if info.health in (None, "healthy"):
            return READY, info.health or "running"
        if info.health == "unhealthy":
            return FAILED, "unhealthy"
        return WAITING, info.health or "starting"
    if info.status == "paused":
        return FAILED, "paused"
    return WAITING, info.status  # created, restarting


def one_shot_detail(service: str, bucket: str, helper: ContainerInfo | None) -> str:
    """What a service's one-shot helper did (MinIO's: create the bucket)."""
    name = ONE_SHOTS[service]
    if helper is None:
        return f"bucket {bucket}: {name} has not run"
    if helper.status == "exited" and helper.exit_code == 0:
        return f"bucket {bucket} ready"
    if helper.ended:
        return f"bucket {bucket} not created: {name} exited with code {helper.exit_code}"
    return f"bucket {bucket}: {name} {helper.status}"


def checks(services: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(service, container service, one-shot) for each container a service needs."""
    found = []
    for s in services:
        found.append((s, s, False))
        if s in ONE_SHOTS:
            found.append((s, ONE_SHOTS[s], True))
    return found


def targets(services: Sequence[str]) -> list[str] | None:
    """Compose service names for the named services (None: all of the active profiles)."""
    if not services:
        return None
    return [*services, *(ONE_SHOTS[s] for s in services if s in ONE_SHOTS)]
