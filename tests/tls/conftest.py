"""The session's test certificates (tests/tls/certs.py), and a local stack serving TLS
(MACROINFRA_LOCAL_TLS=on) whose server certificates the tests swap for the bad ones."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, make_state_dir
from tls.certs import CertSet, make_certs

from macroinfra.settings import Settings


@pytest.fixture(scope="session")
def tls_certs() -> Iterator[CertSet]:
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-certs-", dir="/tmp"))
    try:
        yield make_certs(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_stack() -> Iterator[Settings]:
    """PostgreSQL (ssl on) and Redis (TLS only, an ACL user `app`) of the local runtime,
    verified by the clients against the runtime's own CA."""
    from macroinfra.runtime.local import LocalRuntime
    from macroinfra.settings import load_settings

    state = make_state_dir()
    settings = load_settings(
        None,
        postgres_port=free_port(),
        redis_port=free_port(),
        postgres_password="tls pg%pass",
        redis_password="tls redis%pass",
        redis_username="app",
        state_dir=state,
        runtime="local",
        local_tls=True,
    )
    runtime = LocalRuntime(settings)
    runtime.up(timeout=60)
    try:
        yield settings
    finally:
        runtime.down(volumes=True)
        shutil.rmtree(state, ignore_errors=True)
