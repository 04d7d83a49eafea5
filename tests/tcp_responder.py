"""The base of the responders (tests/responders.py): a listening socket on 127.0.0.1 with one
thread per connection, TLS by Python's ssl when given a server context, and a server that
accepts and never answers."""

from __future__ import annotations

import socket
import ssl
import threading
from contextlib import suppress
from typing import Any

HANDSHAKE_TIMEOUT_S = 5.0


def tls_context(cert: Any, key: Any) -> ssl.SSLContext:
    """A server-side TLS context with this certificate and key (paths)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


class _TcpServer:
    """A listening socket on 127.0.0.1 with one thread per connection (TLS when `tls` is set:
    `tls_versions` records each completed handshake, `tls_failures` each failed one)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.tls_versions: list[str] = []
        self.tls_failures: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        with suppress(OSError):
            self.sock.close()
        for conn in list(self.connections):
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            # As the real servers do: without it, a reply written after TLS 1.3's session
            # tickets waits for the client's delayed ACK.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections.append(conn)
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn.settimeout(HANDSHAKE_TIMEOUT_S)
                conn = self.tls.wrap_socket(conn, server_side=True)
                conn.settimeout(None)
                self.tls_versions.append(str(conn.version()))
            except OSError as exc:
                self.tls_failures.append(str(exc))
                with suppress(OSError):
                    conn.close()
                return
            self.connections.append(conn)
        with suppress(OSError, ConnectionError, EOFError):
            self.serve(conn)
        with suppress(OSError):
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SilentServer(_TcpServer):
    """Accepts connections and never sends a byte: every client must rely on its timeouts."""

    def serve(self, conn: socket.socket) -> None:
        self._closed.wait()


def _read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data
