"""Kafka: bootstrap (ApiVersions), then a metadata request for the brokers and the controller,
with KAFKA_SECURITY_PROTOCOL's TLS and SASL: the probe's own handshake first reports the
certificate of the first reachable bootstrap server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.net.compat import KafkaNetClient

from macroinfra.addresses import split_host_port
from macroinfra.connections.tls import context
from macroinfra.errors import first_line
from macroinfra.probes import _tls
from macroinfra.probes._net import Unreachable
from macroinfra.probes.result import Check, failed, ok, waited
from macroinfra.probes.runner import Budget

if TYPE_CHECKING:
    from macroinfra.connections.tls import PeerTls
    from macroinfra.settings import Settings

SERVICE = "kafka"
_fail = partial(failed, SERVICE, SERVICE)
_ok = partial(ok, SERVICE, SERVICE)
ADDRESS_HINT = "check that KAFKA_BOOTSTRAP_SERVERS points at a Kafka broker"
START_HINT = (
    "start it with `macroinfra up --profile full` (compose), or set KAFKA_BOOTSTRAP_SERVERS"
)
NAMES = _tls.Names(
    "KAFKA_SECURITY_PROTOCOL=PLAINTEXT (or SASL_PLAINTEXT)",
    "KAFKA_SSL_CA",
    "KAFKA_BOOTSTRAP_SERVERS",
)
SETUP_LOGGER = "kafka"  # kafka-python logs why a connection set-up or request failed here
AUTH_HINT = "check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM"


def _quiet_kafka_logs() -> None:
    """kafka-python logs each failed attempt at ERROR; with no logging configured Python would
    print them to stderr. The check line says what happened; an application that configures
    logging still receives them."""
    logger = logging.getLogger("kafka")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class _SetupErrors(logging.Handler):
    """kafka-python retries a failed connection set-up until its bootstrap timeout, logging
    why: this keeps the cause, and on one no retry can fix (credentials, mechanism) closes the
    clients at once so the admin client gives up now instead of at the deadline."""

    def __init__(self, clients: list[Any]) -> None:
        super().__init__(logging.WARNING)
        self.clients = clients
        self.fatal: KafkaError | None = None
        self.closed_by_broker = False

    def emit(self, record: logging.LogRecord) -> None:
        from kafka.errors import (
            KafkaConnectionError,
            SaslAuthenticationFailedError,
            UnsupportedSaslMechanismError,
        )

        for arg in record.args if isinstance(record.args, tuple) else ():
            if isinstance(arg, SaslAuthenticationFailedError | UnsupportedSaslMechanismError):
                if self.fatal is None:
                    self.fatal = arg
                    # Not from kafka-python's IO thread, which is the one logging this.
                    threading.Thread(target=self._close, daemon=True).start()
            elif isinstance(arg, KafkaConnectionError):
                self.closed_by_broker = True

    def _close(self) -> None:
        for client in list(self.clients):
            # The probe closes them too when the constructor gives up: whichever comes second
            # finds the client's selector closed already.
            with suppress(RuntimeError, KafkaError, OSError):
                client.close()


def probe(settings: Settings, budget: Budget) -> Iterator[Check]:
    from macroinfra.connections import kafka as connection

    servers = [a.strip() for a in settings.kafka_bootstrap_servers.split(",") if a.strip()]
    tls = connection.uses_tls(settings)
    started = time.monotonic()
    closed: list[Unreachable] = []
    where = servers[0] if servers else ""
    peer: PeerTls | None = None
    for address in servers:
        host, port = split_host_port(address)
        timeout = budget.client_timeout()
        ca = settings.kafka_ssl_ca
        found = _tls.reach(host, port, timeout, ca, NAMES, tls=tls)
        if stop := _tls.stopped(found, SERVICE, address, NAMES, ca, started):
            yield stop
            return
        if not isinstance(found, Unreachable):
            peer, where = found, address
            break
        closed.append(found)
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
    watch = _SetupErrors(clients)
    logging.getLogger(SETUP_LOGGER).addHandler(watch)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=servers,
            client_id="macroinfra-doctor",
            # One limit for a request, the first connection, and the wait between retries.
            **dict.fromkeys(("request_timeout_ms", "bootstrap_timeout_ms"), ms),
            reconnect_backoff_max_ms=ms,
            kafka_client=TrackedClient,
            **connection.client_options(settings),
            # The context the probe's own handshake verified with (one per CA file).
            **({"ssl_context": context(settings.kafka_ssl_ca)} if tls else {}),
        )
        cluster = admin.describe_cluster()
    except KafkaTimeoutError:
        if watch.fatal is not None:
            yield _kafka_error(settings, watch.fatal, started)
            return
        detail = f"no answer from Kafka at {', '.join(servers)} within {waited(started)}"
        hint = ADDRESS_HINT
        if watch.closed_by_broker:
            detail += " (the broker closed the connection at each attempt)"
            hint = "check KAFKA_SECURITY_PROTOCOL against the broker's listener"
        yield _fail(detail, hint, reason="timeout", started=started)
        return
    except KafkaError as exc:
        yield _kafka_error(settings, exc, started)
        return
    finally:
        logging.getLogger(SETUP_LOGGER).removeHandler(watch)
        if admin is not None:
            admin.close()
        else:
            for client in clients:
                with suppress(RuntimeError, KafkaError, OSError):  # closed already by `watch`
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
    check = _ok(
        detail,
        started,
        brokers=brokers,
        controller_id=controller,
        cluster_id=cluster_id,
        security_protocol=settings.kafka_security_protocol,
    )
    yield from _tls.report(check, peer, where, NAMES)


def _kafka_error(settings: Settings, exc: KafkaError, started: float) -> Check:
    from kafka.errors import SaslAuthenticationFailedError, UnsupportedSaslMechanismError

    text = first_line(exc)
    if isinstance(exc, UnsupportedSaslMechanismError):
        return _fail(
            f"the broker does not offer SASL mechanism {settings.kafka_sasl_mechanism}: {text}",
            "set KAFKA_SASL_MECHANISM to one the broker lists",
            reason="auth",
            started=started,
        )
    if isinstance(exc, SaslAuthenticationFailedError):
        return _fail(
            f"authentication failed: the broker rejected SASL user "
            f"{settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism})",
            AUTH_HINT,
            reason="auth",
            started=started,
        )
    auth = "authentication" in text.lower() or "sasl" in text.lower()
    return _fail(
        f"{'authentication failed' if auth else 'Kafka error'}: {text}",
        "check KAFKA_SECURITY_PROTOCOL against the broker's listener" if auth else ADDRESS_HINT,
        reason="auth" if auth else "error",
        started=started,
    )
