"""Kafka: bootstrap (ApiVersions), then a metadata request for the brokers and the controller."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.net.compat import KafkaNetClient

from macroinfra.addresses import split_host_port
from macroinfra.errors import first_line
from macroinfra.probes._net import Unreachable, tcp_open
from macroinfra.probes.result import Check, failed, ok, waited
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SERVICE = "kafka"
_fail = partial(failed, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that KAFKA_BOOTSTRAP_SERVERS points at a Kafka broker"
START_HINT = (
    "start it with `macroinfra up --profile full` (compose), or set KAFKA_BOOTSTRAP_SERVERS"
)


def _quiet_kafka_logs() -> None:
    """kafka-python logs each failed attempt at ERROR; with no logging configured Python would
    print them to stderr. The check line says what happened; an application that configures
    logging still receives them."""
    logger = logging.getLogger("kafka")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    servers = [a.strip() for a in settings.kafka_bootstrap_servers.split(",") if a.strip()]
    started = time.monotonic()
    closed: list[Unreachable] = []
    for address in servers:
        host, port = split_host_port(address)
        problem = tcp_open(host, port, budget.client_timeout())
        if problem is None:
            break
        closed.append(problem)
    else:
        reasons = {c.reason for c in closed}
        reason = reasons.pop() if len(reasons) == 1 else "unreachable"
        hint = START_HINT if reason == "refused" else ADDRESS_HINT
        yield _fail(
            "; ".join(c.detail for c in closed) or "no servers set",
            hint,
            reason=reason,
            started=started,
        )
        return

    _quiet_kafka_logs()
    ms = max(100, int(budget.client_timeout() * 1000))
    clients: list[Any] = []

    class TrackedClient(KafkaNetClient):
        """Remembered, so it can be closed when the admin client fails to bootstrap: its
        constructor raises after starting the client's IO thread."""

        def __init__(self, **configs: Any) -> None:
            super().__init__(**configs)
            clients.append(self)

    admin: Any = None
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=servers,
            client_id="macroinfra-doctor",
            # One limit for a request, the first connection, and the wait between retries.
            **dict.fromkeys(("request_timeout_ms", "bootstrap_timeout_ms"), ms),
            reconnect_backoff_max_ms=ms,
            kafka_client=TrackedClient,
        )
        cluster = admin.describe_cluster()
    except KafkaTimeoutError:
        yield _fail(
            f"no answer from Kafka at {', '.join(servers)} within {waited(started)}",
            ADDRESS_HINT,
            reason="timeout",
            started=started,
        )
        return
    except KafkaError as exc:
        text = first_line(exc)
        auth = "authentication" in text.lower() or "sasl" in text.lower()
        yield _fail(
            f"{'authentication failed' if auth else 'Kafka error'}: {text}",
            "check the broker's listener and security settings" if auth else ADDRESS_HINT,
            reason="auth" if auth else "error",
            started=started,
        )
        return
    finally:
        if admin is not None:
            admin.close()
        else:
            for client in clients:
                client.close()
    brokers = [f"{b.get('host')}:{b.get('port')}" for b in cluster.get("brokers", [])]
    controller = cluster.get("controller_id")
    cluster_id = cluster.get("cluster_id")
    count = len(brokers)
    detail = (
        f"{count} broker{'s' if count != 1 else ''}, controller "
        f"{controller if controller is not None and controller >= 0 else 'unknown'}"
    )
    if cluster_id:
        detail += f", cluster {cluster_id}"
    yield _ok(
        detail,
        started,
        brokers=brokers,
        controller_id=controller,
        cluster_id=cluster_id,
    )
