"""The TLS stack's servers made to present another certificate for a block: PostgreSQL by a
reload, Redis by CONFIG SET; each waits until the new certificate is the one served. And
PostgreSQL's reload and the wait until its new pg_hba.conf refuses a connection."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tls.certs import Pair

from macroinfra.settings import Settings

SWAP_DEADLINE_S = 20.0


def served_certificate(port: int, *, postgres: bool) -> bytes:
    """The DER certificate a server on 127.0.0.1 presents now."""
    import socket

    from macroinfra.connections.tls import SSL_REQUEST

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if postgres:
            sock.sendall(SSL_REQUEST)
            assert sock.recv(1) == b"S"
        with ctx.wrap_socket(sock) as tls:
            return tls.getpeercert(binary_form=True)


def _der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def _wait_served(port: int, cert: Path, *, postgres: bool) -> None:
    wanted, deadline = _der(cert), time.monotonic() + SWAP_DEADLINE_S
    while served_certificate(port, postgres=postgres) != wanted:
        assert time.monotonic() < deadline, f"the server on {port} still serves another cert"
        time.sleep(0.05)


@contextmanager
def postgres_serving(settings: Settings, pair: Pair) -> Iterator[None]:
    """The TLS stack's PostgreSQL serves `pair` for the block (its files replaced, then a
    reload: PostgreSQL reads its certificate again on SIGHUP), then its own again."""
    data = Path(settings.state_dir) / "postgres"
    own = Path(settings.state_dir) / "tls"

    def install(cert: Path, key: Path) -> None:
        owner = (data / "PG_VERSION").stat()
        for source, name in ((cert, "server.crt"), (key, "server.key")):
            shutil.copyfile(source, data / name)
            os.chmod(data / name, 0o600)
            os.chown(data / name, owner.st_uid, owner.st_gid)
        reload_postgres(settings)
        _wait_served(settings.postgres_port, cert, postgres=True)

    install(pair.cert, pair.key)
    try:
        yield
    finally:
        install(own / "server.crt", own / "server.key")


@contextmanager
def redis_serving(settings: Settings, pair: Pair) -> Iterator[None]:
    """The TLS stack's Redis serves `pair` for the block (CONFIG SET), then its own again."""
    import redis

    from macroinfra.connections.redis import client_kwargs

    own = Path(settings.state_dir) / "tls"

    def install(cert: Path, key: Path) -> None:
        kwargs = client_kwargs(settings) | {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
        with redis.Redis(**kwargs) as client:
            # Both at once (Redis 7): one at a time, the pair would not match in between.
            client.execute_command(
                "CONFIG", "SET", "tls-cert-file", str(cert), "tls-key-file", str(key)
            )
        _wait_served(settings.redis_port, cert, postgres=False)

    install(pair.cert, pair.key)
    try:
        yield
    finally:
        install(own / "server.crt", own / "server.key")


@contextmanager
def postgres_asking_client_certificates(
    settings: Settings, ca: Path, client: Pair
) -> Iterator[None]:
    """The TLS stack's PostgreSQL requires, for the block, a client certificate signed by `ca`
    on top of the password (ssl_ca_file, and pg_hba's clientcert=verify-ca), then not
    (`client`, signed by `ca`, is how it gets back in to undo that)."""
    import psycopg

    from macroinfra.connections.postgres import connect_kwargs

    data = Path(settings.state_dir) / "postgres"
    hba = data / "pg_hba.conf"
    original = hba.read_text()
    owner = (data / "PG_VERSION").stat()
    shutil.copyfile(ca, data / "client-ca.crt")
    os.chown(data / "client-ca.crt", owner.st_uid, owner.st_gid)

    def apply(setting: str, rules: str) -> None:
        with psycopg.connect(**connect_kwargs(settings), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET ssl_ca_file = '{setting}'")
            hba.write_text(rules)
            conn.execute("SELECT pg_reload_conf()")

    rule = "hostssl all all all scram-sha-256 clientcert=verify-ca\n"
    apply("client-ca.crt", rule + original)
    try:
        wait_refused(settings)  # a client without a certificate
        yield
    finally:
        pair = {"sslcert": str(client.cert), "sslkey": str(client.key)}
        with psycopg.connect(**connect_kwargs(settings, **pair), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET ssl_ca_file")
            hba.write_text(original)
            conn.execute("SELECT pg_reload_conf()")
        (data / "client-ca.crt").unlink()


def reload_postgres(settings: Settings) -> None:
    """The TLS stack's PostgreSQL reads its configuration files and certificate again (SIGHUP
    to the postmaster); it does so in the background: wait for what the change should do."""
    pid_file = Path(settings.state_dir) / "postgres" / "postmaster.pid"
    os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGHUP)


def wait_refused(settings: Settings, reason: str = "", **changes: str) -> None:
    """Wait until PostgreSQL refuses a connection of `settings` (with `changes` to
    connect_kwargs, such as sslmode="disable"), its error holding `reason`."""
    import psycopg

    from macroinfra.connections.postgres import connect_kwargs

    deadline = time.monotonic() + SWAP_DEADLINE_S
    while True:
        try:
            psycopg.connect(**connect_kwargs(settings, **changes)).close()
        except psycopg.OperationalError as exc:
            assert reason in str(exc), exc
            return
        assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
        time.sleep(0.05)
