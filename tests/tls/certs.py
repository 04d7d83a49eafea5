"""Test certificates made with the `openssl` command: a CA, server certificates for 127.0.0.1 and
localhost (a good one, an expired one, one expiring soon, one for another host name), a client
certificate, and a second CA that signed none of them (the "wrong CA").

Import from tests as `from tls.certs import CertSet, make_certs`; the session fixture
`tls_certs` (tests/conftest.py) makes one set per session. Keys are 0600.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from macroinfra.runtime.local.tls import SERVER_NAMES  # 127.0.0.1 and localhost, serverAuth

WRONG_HOST_NAMES = "subjectAltName=DNS:wrong-host.invalid\nextendedKeyUsage=serverAuth\n"
CLIENT_USAGE = "extendedKeyUsage=clientAuth\n"
# `req`'s arguments for a new P-256 key, written unencrypted.
NEW_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class CertSet:
    folder: Path
    ca: Path  # the CA that signed every certificate below
    ca_key: Path
    server: Pair  # 127.0.0.1 and localhost, valid for a year
    expired: Pair  # 127.0.0.1 and localhost, expired yesterday
    expiring: Pair  # 127.0.0.1 and localhost, expires in 10 days
    wrong_host: Pair  # wrong-host.invalid only
    client: Pair  # a client certificate (CN=macro_user)
    other_ca: Path  # a CA that signed none of the above


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key_and_csr(folder: Path, name: str, subject: str) -> tuple[Path, Path]:
    key, csr = folder / f"{name}.key", folder / f"{name}.csr"
    _openssl(
        "req",
        *NEW_EC_KEY,
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        subject,
        cwd=folder,
    )
    key.chmod(0o600)
    return key, csr


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    _openssl(
        "req",
        "-x509",
        *NEW_EC_KEY,
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        "3650",
        "-subj",
        f"/CN=macroinfra {name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )
    key.chmod(0o600)
    return cert, key


def _signed(
    folder: Path, name: str, ca: Path, ca_key: Path, days: int, extensions: str, cn: str
) -> Pair:
    key, csr = _key_and_csr(folder, name, f"/CN={cn}")
    ext = folder / f"{name}.ext"
    ext.write_text(extensions)
    cert = folder / f"{name}.crt"
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        str(days),
        "-extfile",
        str(ext),
        cwd=folder,
    )
    csr.unlink()
    ext.unlink()
    return Pair(cert, key)


def make_certs(folder: Path) -> CertSet:
    """Every certificate of the tests, in `folder` (created 0700 if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ca, ca_key = _ca(folder, "ca")
    other_ca, _ = _ca(folder, "other-ca")
    return CertSet(
        folder=folder,
        ca=ca,
        ca_key=ca_key,
        server=_signed(folder, "server", ca, ca_key, 365, SERVER_NAMES, "127.0.0.1"),
        # -days -1: notAfter is yesterday, so the certificate is expired from the start.
        expired=_signed(folder, "expired", ca, ca_key, -1, SERVER_NAMES, "127.0.0.1"),
        expiring=_signed(folder, "expiring", ca, ca_key, 10, SERVER_NAMES, "127.0.0.1"),
        wrong_host=_signed(
            folder, "wrong-host", ca, ca_key, 365, WRONG_HOST_NAMES, "wrong-host.invalid"
        ),
        client=_signed(folder, "client", ca, ca_key, 365, CLIENT_USAGE, "macro_user"),
        other_ca=other_ca,
    )
