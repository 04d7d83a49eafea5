"""In-test servers on 127.0.0.1 for the services no server of which can run on these machines.

Each speaks just enough of the real protocol for the real client library to succeed, and no
more. What is real: the wire formats (MongoDB OP_MSG with BSON, Kafka's request/response
framing with ApiVersions and Metadata, HTTP with AWS Signature V4), MongoDB's SCRAM-SHA-256
exchange (the password is verified, so a wrong one fails as it would on a real server), and
MinIO's signature check (the Authorization header is verified against the secret key), Kafka's
SASL (SaslHandshake, SaslAuthenticate with PLAIN or SCRAM-SHA-256/512), and TLS: each takes a
server-side `ssl.SSLContext` (`tls_context`) and then speaks only TLS, by Python's ssl module.
What is not: storage, replication, topics, everything else a real server does.

- SilentServer: accepts TCP connections and never answers (a hung service).
- FakeMongoServer: hello/isMaster, saslStart/saslContinue (SCRAM-SHA-256), ping, buildInfo.
- FakeKafkaBroker: ApiVersions (v0 fallback and v3), Metadata v0-v2 naming itself as the broker,
  and with `users`, SASL required before anything else.
- FakeMinioServer: GET /minio/health/live (unless `liveness=False`: a plain S3 server), and
  HEAD /<bucket> with a SigV4 signature check.

The TCP base and SilentServer live in tcp_responder.py, the Kafka broker in kafka_responder.py;
tests import them all from here.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import struct
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from kafka_responder import (  # noqa: F401 (the tests import every responder from here)
    API_VERSIONS,
    METADATA,
    SASL_AUTHENTICATE,
    SASL_HANDSHAKE,
    FakeKafkaBroker,
)
from scram import ScramServer
from tcp_responder import (  # noqa: F401
    HANDSHAKE_TIMEOUT_S,
    SilentServer,
    _read_exact,
    _TcpServer,
    tls_context,
)

# -- MongoDB ---------------------------------------------------------------------------------

OP_MSG = 2013


class FakeMongoServer(_TcpServer):
    """Just enough OP_MSG for pymongo's handshake, SCRAM-SHA-256 auth, `ping` and `buildInfo`.

    The SCRAM exchange is computed for real from `user`/`password` (RFC 5802/7677), so the
    client's proof is verified and a wrong password fails with code 18, AuthenticationFailed.
    """

    VERSION = "7.0.14"

    def __init__(self, user: str, password: str, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self.user = user
        self.password = password
        self.commands: list[tuple[str, bool]] = []  # (command, authenticated connection?)
        self.auth_databases: list[str] = []  # the `$db` of each saslStart (the authSource)

    def serve(self, conn: socket.socket) -> None:
        import bson

        state: dict[str, Any] = {"authenticated": False}
        while True:
            length, request_id, _, opcode = struct.unpack("<iiii", _read_exact(conn, 16))
            body = _read_exact(conn, length - 16)
            if opcode != OP_MSG:
                return  # pymongo 4.x speaks OP_MSG only
            flags = struct.unpack("<I", body[:4])[0]
            if body[4] != 0:
                return
            doc = bson.decode(body[5 : 5 + struct.unpack("<i", body[5:9])[0]])
            reply = self._command(doc, state)
            payload = struct.pack("<I", 0) + b"\x00" + bson.encode(reply)
            header = struct.pack("<iiii", 16 + len(payload), request_id + 1, request_id, OP_MSG)
            if not flags & 2:  # moreToCome: no reply expected
                conn.sendall(header + payload)

    def _command(self, doc: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        from bson.binary import Binary

        name = next(iter(doc)).lower()
        self.commands.append((name, state["authenticated"]))
        if name in {"hello", "ismaster"}:
            reply: dict[str, Any] = {
                "helloOk": True,
                "isWritablePrimary": True,
                "ismaster": True,
                "maxBsonObjectSize": 16 * 1024 * 1024,
                "maxMessageSizeBytes": 48_000_000,
                "maxWriteBatchSize": 100_000,
                "localTime": datetime.now(UTC),
                "logicalSessionTimeoutMinutes": 30,
                "connectionId": 1,
                "minWireVersion": 0,
                "maxWireVersion": 21,
                "readOnly": False,
                "ok": 1.0,
            }
            if "saslSupportedMechs" in doc:
                reply["saslSupportedMechs"] = ["SCRAM-SHA-256"]
            return reply
        if name == "saslstart":
            if doc.get("mechanism") != "SCRAM-SHA-256":
                return _mongo_error("Unsupported mechanism", 2)
            self.auth_databases.append(str(doc.get("$db")))
            state["scram"] = ScramServer("SCRAM-SHA-256", self.user, self.password)
            server_first = state["scram"].first(bytes(doc["payload"]))
            return {
                "conversationId": 1,
                "done": False,
                "payload": Binary(server_first),
                "ok": 1.0,
            }
        if name == "saslcontinue":
            client_final = bytes(doc["payload"])
            if not client_final:
                return {"conversationId": 1, "done": True, "payload": Binary(b""), "ok": 1.0}
            server_final = state["scram"].final(client_final)
            if server_final is None:
                return _mongo_error("Authentication failed.", 18, "AuthenticationFailed")
            state["authenticated"] = True
            return {
                "conversationId": 1,
                "done": True,
                "payload": Binary(server_final),
                "ok": 1.0,
            }
        if name == "ping" or name == "endsessions":
            return {"ok": 1.0}
        if name == "buildinfo":
            return {"version": self.VERSION, "versionArray": [7, 0, 14, 0], "ok": 1.0}
        return _mongo_error(f"no such command: '{name}'", 59, "CommandNotFound")


def _mongo_error(message: str, code: int, code_name: str = "Error") -> dict[str, Any]:
    return {"ok": 0.0, "errmsg": message, "code": code, "codeName": code_name}


# -- MinIO -----------------------------------------------------------------------------------


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up, or fails the TLS handshake


class FakeMinioServer:
    """MinIO's liveness endpoint and HEAD bucket, with the AWS Signature V4 header verified
    against `access_key`/`secret_key` (403 when it does not match, 404 for another bucket).

    `liveness=False` makes it a plain S3 server: /minio/health/live is just an unsigned GET of
    an object, refused with 403. With `region`, a signature scoped to another region is
    refused as S3 does: 400, naming the bucket's region in x-amz-bucket-region."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        buckets: set[str],
        tls: ssl.SSLContext | None = None,
        *,
        liveness: bool = True,
        region: str | None = None,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.buckets = buckets
        self.region = region
        self.requests: list[dict[str, Any]] = []
        self.tls_versions: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                if tls is not None:
                    self.request.settimeout(HANDSHAKE_TIMEOUT_S)
                    self.request.do_handshake()
                    self.request.settimeout(None)
                    outer.tls_versions.append(str(self.request.version()))
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._record(self)
                status = 200 if liveness and self.path == "/minio/health/live" else 403
                self._reply(status)

            def do_HEAD(self) -> None:
                outer._record(self)
                headers = dict(self.headers)
                if outer.region is not None and f"/{outer.region}/s3/" not in str(
                    headers.get("Authorization", "")
                ):
                    self._reply(400, {"x-amz-bucket-region": outer.region})
                    return
                if not outer.signature_valid(self.command, self.path, headers):
                    self._reply(403, {"x-minio-error-code": "SignatureDoesNotMatch"})
                    return
                bucket = urlsplit(self.path).path.strip("/")
                self._reply(200 if bucket in outer.buckets else 404)

            def _reply(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = _QuietHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _record(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(
            {
                "method": handler.command,
                "path": handler.path,
                "headers": {k.lower(): v for k, v in handler.headers.items()},
            }
        )

    def signature_valid(self, method: str, path: str, headers: dict[str, str]) -> bool:
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        access_key, date, region, service, terminator = parts["Credential"].split("/")
        if access_key != self.access_key or terminator != "aws4_request":
            return False
        signed = parts["SignedHeaders"].split(";")
        url = urlsplit(path)
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in sorted(parse_qsl(url.query, keep_blank_values=True))
        )
        canonical = "\n".join(
            [
                method,
                quote(url.path, safe="/-_.~"),
                query,
                "".join(f"{name}:{' '.join(h[name].split())}\n" for name in signed),
                ";".join(signed),
                h["x-amz-content-sha256"],
            ]
        )
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                h["x-amz-date"],
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = ("AWS4" + self.secret_key).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        expected = hmac.new(key, to_sign.encode(), "sha256").hexdigest()
        return hmac.compare_digest(expected, parts["Signature"])
