"""CA bundles and the system's trust store, as the settings that name them see them."""

from __future__ import annotations

import ssl
from functools import cache
from pathlib import Path

PEM_MARK = b"-----BEGIN CERTIFICATE-----"


def ca_problem(variable: str, path: Path) -> str | None:
    """Why the CA bundle at `path` cannot be used (one line naming `variable`), or None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"{variable}: no such file {str(path)!r}: set it to the server's CA bundle (PEM)"
    except IsADirectoryError:
        return f"{variable}: {str(path)!r} is a folder: set it to a CA bundle file (PEM)"
    except PermissionError:
        return f"{variable}: cannot read {str(path)!r} (permission denied): make it readable"
    except OSError as exc:
        return f"{variable}: cannot read {str(path)!r} ({exc.strerror}): fix the path"
    if PEM_MARK not in data:
        return (
            f"{variable}: {str(path)!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----): "
            "give the CA bundle in PEM form"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError):
        return f"{variable}: {str(path)!r} is not a valid PEM certificate bundle: re-export it"
    return None


@cache
def system_store_empty() -> bool:
    """The system's trust store holds no CA: verifying a server needs a CA bundle. (Where
    OpenSSL looks, not what it loads: loading the store takes tens of ms, on every command.)"""
    paths = ssl.get_default_verify_paths()
    if paths.cafile is not None and Path(paths.cafile).stat().st_size > 0:
        return False
    if paths.capath is not None:
        try:
            return not any(Path(paths.capath).iterdir())
        except OSError:
            return True
    return True


def verify_problem(variable: str, ca: Path | None, what: str) -> str | None:
    """A problem when TLS is on for `what` and the certificate cannot be verified: no CA
    bundle and an empty system store, or an unusable `variable`."""
    if ca is not None:
        return ca_problem(variable, ca)
    if system_store_empty():
        return (
            f"{what} verifies the server's certificate, but the system trust store is empty "
            f"and {variable} is not set: set {variable} to the CA bundle (PEM)"
        )
    return None
