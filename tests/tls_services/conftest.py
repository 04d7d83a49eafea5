"""The TLS tests of MongoDB, Kafka and the S3 store take the session's test certificates as
`certs`: the one set `tls_certs` (tests/conftest.py) makes, so openssl runs once per session."""

from __future__ import annotations

import pytest
from tls.certs import CertSet


@pytest.fixture(scope="session")
def certs(tls_certs: CertSet) -> CertSet:
    return tls_certs
