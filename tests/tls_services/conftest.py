"""The session's test certificates (tests/tls/certs.py) for the TLS tests of MongoDB, Kafka and
the S3 store, and the server contexts the responders wrap their connections in."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tls.certs import CertSet, make_certs


@pytest.fixture(scope="session")
def certs() -> Iterator[CertSet]:
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-service-certs-", dir="/tmp"))
    try:
        yield make_certs(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
