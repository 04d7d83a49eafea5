"""The local runtime's certificates (MACROINFRA_LOCAL_TLS=on): a CA of its own and a server
certificate for 127.0.0.1 and localhost signed by it, in `<state>/tls`, every file 0600.

Made with the `openssl` program on the first start with TLS on, in a folder of its own that is
moved into place only once complete (a killed start leaves no half-made set); the server
certificate is renewed by the same CA when it has less than RENEW_DAYS left, so the CA that
clients trust stays the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from macroinfra.connections.local import tls_folder
from macroinfra.errors import OperationError, ServiceUnavailable

CA_DAYS = 3650
SERVER_DAYS = 397
RENEW_DAYS = 30
SERVER_NAMES = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
FILES = ("ca.crt", "ca.key", "server.crt", "server.key")
WORK_PREFIX = ".tls-"  # the folder a set is made in before it moves into place


def ensure_certificates(state_dir: Path) -> Path:
    """The folder holding ca.crt, server.crt and server.key, made or renewed as needed."""
    folder = tls_folder(state_dir)
    for leftover in state_dir.glob(f"{WORK_PREFIX}*"):  # of a start killed while making them
        shutil.rmtree(leftover, ignore_errors=True)
    if not all((folder / name).is_file() for name in FILES):
        if folder.exists():
            shutil.rmtree(folder)  # an incomplete set: none of it was handed out as a whole
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=state_dir))
        try:
            _make_ca(work)
            _make_server(work)
            work.rename(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    elif _expires_within(folder / "server.crt", RENEW_DAYS):
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=state_dir))
        try:
            for name in ("ca.crt", "ca.key"):
                shutil.copy2(folder / name, work / name)
            _make_server(work)
            for name in ("server.key", "server.crt"):
                os.replace(work / name, folder / name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _openssl(*args: str, cwd: Path) -> None:
    program = shutil.which("openssl")
    if program is None:
        raise ServiceUnavailable(
            "MACROINFRA_LOCAL_TLS=on needs the openssl program to make certificates",
            hint="install it (apt-get install openssl) or set MACROINFRA_LOCAL_TLS=off",
        )
    result = subprocess.run(
        [program, *args], cwd=cwd, capture_output=True, text=True, check=False, umask=0o077
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise OperationError(f"openssl could not make a certificate: {detail}")


def _new_key(folder: Path, name: str) -> None:
    _openssl(
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        f"{name}.key",
        cwd=folder,
    )


def _make_ca(folder: Path) -> None:
    _new_key(folder, "ca")
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        str(CA_DAYS),
        "-subj",
        "/CN=macroinfra local CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )


def _make_server(folder: Path) -> None:
    _new_key(folder, "server")
    _openssl(
        "req",
        "-new",
        "-key",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=folder,
    )
    (folder / "server.ext").write_text(SERVER_NAMES)
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        str(int.from_bytes(os.urandom(8), "big")),
        "-out",
        "server.crt",
        "-days",
        str(SERVER_DAYS),
        "-extfile",
        "server.ext",
        cwd=folder,
    )
    for name in ("server.csr", "server.ext"):
        (folder / name).unlink()
    for path in folder.iterdir():
        path.chmod(0o600)


def _expires_within(cert: Path, days: int) -> bool:
    program = shutil.which("openssl")
    if program is None:
        return False
    result = subprocess.run(
        [program, "x509", "-checkend", str(days * 86400), "-noout", "-in", str(cert)],
        capture_output=True,
        check=False,
    )
    return result.returncode != 0
