"""The server side of SCRAM (RFC 5802, RFC 7677), for the responders of tests/responders.py.

One ScramServer runs one exchange for one user: `first` answers the client-first message,
`final` checks the client's proof and answers with the server signature, or returns None
when the proof (that is, the password) or the nonce is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class ScramServer:
    def __init__(self, mechanism: str, user: str, password: str, iterations: int = 4096) -> None:
        self.hash = HASHES[mechanism]
        self.expected_user = user
        self.password = password
        self.iterations = iterations
        self.salt = os.urandom(16)
        self.user: str | None = None  # the name the client sent
        self.nonce = ""
        self.client_first_bare = ""
        self.server_first = ""

    def first(self, client_first: bytes) -> bytes:
        bare = client_first.decode().split(",", 2)[2]  # drop the gs2 header "n,,"
        fields = dict(f.split("=", 1) for f in bare.split(","))
        self.user = fields["n"].replace("=2C", ",").replace("=3D", "=")
        self.client_first_bare = bare
        self.nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        salt = base64.b64encode(self.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.iterations}"
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes | None:
        without_proof, _, proof = client_final.decode().rpartition(",p=")
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), self.salt, self.iterations)
        client_key = hmac.digest(salted, b"Client Key", self.hash)
        stored_key = hashlib.new(self.hash, client_key).digest()
        auth_message = ",".join((self.client_first_bare, self.server_first, without_proof))
        signature = hmac.digest(stored_key, auth_message.encode(), self.hash)
        try:
            sent = base64.b64decode(proof)
        except ValueError:
            return None
        if len(sent) != len(signature):
            return None
        recovered = bytes(a ^ b for a, b in zip(sent, signature, strict=True))
        if (
            self.user != self.expected_user
            or f"r={self.nonce}" not in without_proof.split(",")
            or not hmac.compare_digest(hashlib.new(self.hash, recovered).digest(), stored_key)
        ):
            return None
        server_key = hmac.digest(salted, b"Server Key", self.hash)
        return b"v=" + base64.b64encode(hmac.digest(server_key, auth_message.encode(), self.hash))
