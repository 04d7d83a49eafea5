"""A local stack serving TLS (MACROINFRA_LOCAL_TLS=on) whose server certificates the tests swap
for the bad ones of `tls_certs` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import own_local_stack
from tls.servers import reload_postgres, wait_refused

from macroinfra.settings import Settings


@pytest.fixture(scope="session")
def tls_stack() -> Iterator[Settings]:
    """PostgreSQL (ssl on, and a connection without it refused, so that every client that
    works is known to speak TLS) and Redis (TLS only, an ACL user `app`) of the local runtime,
    verified by the clients against the runtime's own CA."""
    with own_local_stack(
        start=True,
        postgres_password="tls pg%pass",
        redis_password="tls redis%pass",
        redis_username="app",
        local_tls=True,
    ) as settings:
        _refuse_plaintext(settings)
        yield settings


def _refuse_plaintext(settings: Settings) -> None:
    """pg_hba.conf refuses every connection without TLS (then a reload, and a wait until a
    plain connection is refused)."""
    hba = Path(settings.state_dir) / "postgres" / "pg_hba.conf"
    hba.write_text("hostnossl all all all reject\n" + hba.read_text())
    reload_postgres(settings)
    wait_refused(settings, "no encryption", sslmode="disable")
