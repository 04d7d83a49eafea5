"""The test certificates are what the TLS tests take them for (checked with Python's ssl)."""

from __future__ import annotations

import ssl
import subprocess

from tls.certs import CertSet


def _verify(ca, cert) -> str:
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, text=True
    )
    return proc.stdout + proc.stderr


def test_server_certificate_verifies_against_its_ca_only(tls_certs: CertSet) -> None:
    assert ": OK" in _verify(tls_certs.ca, tls_certs.server.cert)
    assert ": OK" not in _verify(tls_certs.other_ca, tls_certs.server.cert)


def test_expired_certificate_is_expired(tls_certs: CertSet) -> None:
    assert "certificate has expired" in _verify(tls_certs.ca, tls_certs.expired.cert)


def test_wrong_host_certificate_names_another_host(tls_certs: CertSet) -> None:
    info = ssl._ssl._test_decode_cert(str(tls_certs.wrong_host.cert))  # type: ignore[attr-defined]
    assert info["subjectAltName"] == (("DNS", "wrong-host.invalid"),)
    good = ssl._ssl._test_decode_cert(str(tls_certs.server.cert))  # type: ignore[attr-defined]
    assert ("IP Address", "127.0.0.1") in good["subjectAltName"]


def test_keys_are_private(tls_certs: CertSet) -> None:
    for pair in (tls_certs.server, tls_certs.client, tls_certs.expired):
        assert pair.key.stat().st_mode & 0o777 == 0o600
