"""The session's test certificates (tests/tls/certs.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tls.certs import CertSet, make_certs


@pytest.fixture(scope="session")
def tls_certs() -> Iterator[CertSet]:
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-certs-", dir="/tmp"))
    try:
        yield make_certs(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
