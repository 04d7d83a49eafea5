"""The local runtime's own certificates (MACROINFRA_LOCAL_TLS=on): made once, private, for
127.0.0.1 and localhost, renewed by the same CA before they expire, never left half-made."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

from helpers import Cli

from macroinfra.runtime.local.tls import FILES, ensure_certificates


def verifies(folder: Path) -> bool:
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(folder / "ca.crt"), str(folder / "server.crt")],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def names(cert: Path) -> tuple:
    return ssl._ssl._test_decode_cert(str(cert))["subjectAltName"]  # type: ignore[attr-defined]


def test_a_first_start_makes_a_private_ca_and_server_certificate(tmp_path):
    folder = ensure_certificates(tmp_path)
    assert folder == tmp_path / "tls"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert all((folder / f).stat().st_mode & 0o777 == 0o600 for f in FILES)
    assert verifies(folder)
    assert names(folder / "server.crt") == (("IP Address", "127.0.0.1"), ("DNS", "localhost"))
    before = {f: (folder / f).read_bytes() for f in FILES}
    ensure_certificates(tmp_path)
    assert {f: (folder / f).read_bytes() for f in FILES} == before  # kept as it is


def test_a_server_certificate_near_expiry_is_renewed_by_the_same_ca(tmp_path):
    folder = ensure_certificates(tmp_path)
    ca = (folder / "ca.crt").read_bytes()
    subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            "server.crt",
            "-signkey",
            "server.key",
            "-days",
            "5",
            "-out",
            "server.crt",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    short = (folder / "server.crt").read_bytes()
    ensure_certificates(tmp_path)
    assert (folder / "server.crt").read_bytes() != short
    assert (folder / "ca.crt").read_bytes() == ca and verifies(folder)


def test_an_incomplete_set_and_a_killed_start_s_leftovers_are_made_again(tmp_path):
    folder = ensure_certificates(tmp_path)
    (folder / "server.key").unlink()
    (tmp_path / ".tls-killed").mkdir()
    ensure_certificates(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES) and verifies(folder)
    assert not list(tmp_path.glob(".tls-*"))


def test_status_shows_the_ca_path(tls_stack):
    result = Cli(tls_stack)("status", "--json")
    assert result.exit_code == 0, result.output
    rows = {v["name"]: v["value"] for v in json.loads(result.stdout)["connection"]}
    ca = str(tls_stack.state_dir / "tls" / "ca.crt")
    assert rows["PGSSLROOTCERT"] == ca and rows["REDIS_TLS_CA"] == ca
    table = Cli(tls_stack)("status")
    assert "PGSSLROOTCERT" in table.stdout and "REDIS_TLS_CA" in table.stdout
