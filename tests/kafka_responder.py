"""The Kafka responder of tests/responders.py (imported from there): ApiVersions, Metadata, and
SASL (SaslHandshake, SaslAuthenticate with PLAIN or SCRAM-SHA-256/512, the SCRAM exchange
computed for real by tests/scram.py), over TLS when given a server context."""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from scram import ScramServer
from tcp_responder import _read_exact, _TcpServer

API_VERSIONS, METADATA, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 3, 17, 36
UNSUPPORTED_VERSION, UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 35, 33, 58


def _uvarint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _kstring(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _kbytes(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


class FakeKafkaBroker(_TcpServer):
    """One broker (node 1, this address) that answers ApiVersions and Metadata, nothing else.

    It advertises ApiVersions 0-3 and Metadata 0-2; a newer ApiVersions request gets the
    standard UNSUPPORTED_VERSION answer in the v0 format, as a real broker does. With `users`
    (name -> password) it is a SASL listener: SaslHandshake v0-1 and SaslAuthenticate v0-1 for
    `mechanisms`, the SCRAM exchange computed for real, and a connection that asks for
    anything but ApiVersions before it has authenticated is closed, as a broker does.
    """

    NODE_ID = 1
    CLUSTER_ID = "fake-kafka-cluster"
    SUPPORTED = {API_VERSIONS: (0, 3), METADATA: (0, 2)}
    SASL_SUPPORTED = {SASL_HANDSHAKE: (0, 1), SASL_AUTHENTICATE: (0, 1)}

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        mechanisms: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
    ) -> None:
        super().__init__(tls)
        self.users = users
        self.mechanisms = mechanisms
        self.requests: list[tuple[int, int]] = []  # (api_key, api_version)
        self.authenticated: list[tuple[str, str]] = []  # (mechanism, user) per success
        self.rejected: list[tuple[str, str]] = []  # (mechanism, user) per failure

    def serve(self, conn: socket.socket) -> None:
        state: dict[str, Any] = {"authenticated": self.users is None}
        while True:
            (size,) = struct.unpack(">i", _read_exact(conn, 4))
            request = _read_exact(conn, size)
            api_key, version, correlation = struct.unpack(">hhi", request[:8])
            self.requests.append((api_key, version))
            (client_id_length,) = struct.unpack(">h", request[8:10])
            body = request[10 + max(client_id_length, 0) :]
            if state["authenticated"] or api_key in (API_VERSIONS, SASL_HANDSHAKE):
                answer = self._answer(api_key, version, body, state)
            elif api_key == SASL_AUTHENTICATE:
                answer = self._authenticate(version, body, state)
            else:
                answer = None
            if answer is None:
                return
            response = struct.pack(">i", correlation) + answer
            conn.sendall(struct.pack(">i", len(response)) + response)

    def _answer(self, api_key: int, version: int, body: bytes, state: dict) -> bytes | None:
        supported = dict(self.SUPPORTED)
        if self.users is not None:
            supported.update(self.SASL_SUPPORTED)
        if api_key == API_VERSIONS:
            high = supported[API_VERSIONS][1]
            entries = [(k, lo, hi) for k, (lo, hi) in sorted(supported.items())]
            if version > high:  # v0 layout, error UNSUPPORTED_VERSION
                return struct.pack(">hi", UNSUPPORTED_VERSION, len(entries)) + b"".join(
                    struct.pack(">hhh", *e) for e in entries
                )
            if version >= 3:  # flexible: compact array, tagged fields
                return (
                    struct.pack(">h", 0)
                    + _uvarint(len(entries) + 1)
                    + b"".join(struct.pack(">hhh", *e) + _uvarint(0) for e in entries)
                    + struct.pack(">i", 0)
                    + _uvarint(0)
                )
            out = struct.pack(">hi", 0, len(entries))
            out += b"".join(struct.pack(">hhh", *e) for e in entries)
            return out + (struct.pack(">i", 0) if version >= 1 else b"")
        if api_key == SASL_HANDSHAKE and self.users is not None:
            (length,) = struct.unpack(">h", body[:2])
            mechanism = body[2 : 2 + length].decode()
            error = 0 if mechanism in self.mechanisms else UNSUPPORTED_SASL_MECHANISM
            state["mechanism"] = mechanism if error == 0 else None
            names = b"".join(_kstring(m) for m in self.mechanisms)
            return struct.pack(">hi", error, len(self.mechanisms)) + names
        if api_key == METADATA and version <= supported[METADATA][1]:
            broker = struct.pack(">i", self.NODE_ID) + _kstring("127.0.0.1")
            broker += struct.pack(">i", self.port)
            if version >= 1:
                broker += _kstring(None)  # rack
            out = struct.pack(">i", 1) + broker
            if version >= 2:
                out += _kstring(self.CLUSTER_ID)
            if version >= 1:
                out += struct.pack(">i", self.NODE_ID)  # controller
            return out + struct.pack(">i", 0)  # no topics
        return None  # anything else: hang up, as a broker does on an unknown request

    def _authenticate(self, version: int, body: bytes, state: dict) -> bytes | None:
        mechanism = state.get("mechanism")
        if mechanism is None or self.users is None:
            return None
        (length,) = struct.unpack(">i", body[:4])
        token = body[4 : 4 + length]
        reply: bytes | None = b""
        if mechanism == "PLAIN":
            parts = token.decode(errors="replace").split("\0")
            user, password = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
            ok = user in self.users and self.users[user] == password
            state["user"] = user
            done = True
        elif "scram" not in state:
            user = token.decode().split(",", 2)[2].split(",")[0][2:]
            state["user"] = user
            state["scram"] = ScramServer(mechanism, user, self.users.get(user, ""))
            if user not in self.users:
                state["scram"].expected_user = None
            reply, ok, done = state["scram"].first(token), True, False
        else:
            reply = state["scram"].final(token)
            ok, done = reply is not None, True
        if not ok:
            self.rejected.append((mechanism, state.get("user", "")))
            message = (
                "Authentication failed during authentication due to invalid credentials with "
                f"SASL mechanism {mechanism}"
            )
            out = struct.pack(">h", SASL_AUTHENTICATION_FAILED) + _kstring(message) + _kbytes(b"")
            return out + (struct.pack(">q", 0) if version >= 1 else b"")
        if done:
            state["authenticated"] = True
            self.authenticated.append((mechanism, state["user"]))
        out = struct.pack(">h", 0) + _kstring(None) + _kbytes(reply or b"")
        return out + (struct.pack(">q", 0) if version >= 1 else b"")
