"""MACROINFRA_LOCAL_TLS=on: the local runtime serves TLS from certificates it makes in the
state folder, and the clients verify it by default (verify-full against its CA for PostgreSQL,
TLS with that CA for Redis), so development speaks TLS as production does. A setting made
explicitly, or by DATABASE_URL or REDIS_URL (later in connections.SERVICES), wins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from macroinfra.settings import Settings

URL_SETTING = "local_tls"  # the setting whose value gives the fields of url_fields
TLS_FOLDER = "tls"


def tls_folder(state_dir: Path) -> Path:
    """Where the local runtime keeps its CA and server certificates."""
    return state_dir / TLS_FOLDER


def local_ca(settings: Settings) -> Path:
    """The local runtime's CA certificate (made by its first start with TLS on)."""
    return tls_folder(settings.state_dir) / "ca.crt"


def url_fields(settings: Settings) -> dict[str, Any]:
    if not settings.local_tls:
        return {}
    ca = local_ca(settings)
    return {
        "postgres_sslmode": "verify-full",
        "postgres_sslrootcert": ca,
        "redis_tls": True,
        "redis_tls_ca": ca,
    }
