"""The MongoDB probe over real TLS: pymongo's own TLS and SCRAM against the MongoDB responder
wrapped in Python's ssl, with good, expired, expiring and wrong-host certificates, a CA that
signed none of them, a server without TLS, MONGO_URL (mongodb:// and mongodb+srv://)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pytest
from responders import FakeMongoServer, tls_context

from macroinfra.probes import run_doctor
from macroinfra.settings import load_settings

USER, PASSWORD = "macro_user", "m0ngo%s3cret/pw"


def doctor(timeout: float = 3.0, **settings):
    report = run_doctor(
        load_settings(None, **settings), ["mongodb"], timeout=timeout, runtime="external"
    )
    text = json.dumps([asdict(c) for c in report.checks], default=str)
    assert PASSWORD not in text and "s3cret" not in text
    return report


def tls_server(pair, **kw):
    return FakeMongoServer(USER, PASSWORD, tls_context(pair.cert, pair.key), **kw)


def parts(server, ca=None, **more):
    values = dict(
        mongo_port=server.port, mongo_user=USER, mongo_password=PASSWORD, mongo_tls=True, **more
    )
    if ca is not None:
        values["mongo_tls_ca"] = str(ca)
    return values


def test_verified_tls_with_scram_over_it(certs):
    with tls_server(certs.server) as server:
        report = doctor(**parts(server, certs.ca))
    main, tls = report.checks
    assert report.ok and main.status == "ok", main
    assert (
        main.detail == f"MongoDB {FakeMongoServer.VERSION} (authenticated as {USER}), over TLSv1.3"
    )
    assert main.info["encrypted"] is True
    assert (tls.name, tls.status) == ("mongodb: tls", "ok")
    assert tls.detail.startswith("TLSv1.3, certificate verified, expires in 36")
    assert tls.info["verified"] is True and 360 <= tls.info["days_left"] <= 365
    # Every connection the server saw was TLS, and the ping ran after SCRAM over it.
    assert server.tls_versions and set(server.tls_versions) == {"TLSv1.3"}
    assert ("ping", True) in server.commands


def test_auth_source_is_the_database_authenticated_against(certs):
    with tls_server(certs.server) as server:
        report = doctor(**parts(server, certs.ca, mongo_auth_source="macro_auth"))
    assert report.ok
    assert server.auth_databases and set(server.auth_databases) == {"macro_auth"}


def test_wrong_password_over_tls_is_an_authentication_failure(certs):
    with tls_server(certs.server) as server:
        report = doctor(**{**parts(server, certs.ca), "mongo_password": "not-it"})
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "auth")
    assert "authSource 'admin'" in check.detail


def test_expired_certificate_fails_before_the_client_sends_anything(certs):
    with tls_server(certs.expired) as server:
        report = doctor(**parts(server, certs.ca))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "expired" in check.detail and check.hint.startswith("renew the server's certificate")
    assert server.commands == []  # no credentials went to a server the client would refuse


def test_certificate_for_another_host_fails_with_the_fix(certs):
    with tls_server(certs.wrong_host) as server:
        report = doctor(**parts(server, certs.ca))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "not for 127.0.0.1" in check.detail
    assert "a name the certificate holds" in check.hint
    assert server.commands == []


def test_certificate_of_an_unknown_ca_names_the_ca_setting(certs):
    with tls_server(certs.server) as server:
        report = doctor(**parts(server, certs.other_ca))
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "MONGO_TLS_CA" in check.hint and str(certs.other_ca) in check.hint


def test_certificate_expiring_soon_is_a_warning_that_fails_strict(certs):
    with tls_server(certs.expiring) as server:
        report = doctor(**parts(server, certs.ca))
    main, tls = report.checks
    assert main.status == "ok"
    assert (tls.status, tls.reason) == ("warning", "tls_expiring")
    assert report.ok  # a warning passes ...
    assert not run_doctor(  # ... except under --strict
        load_settings(None, **parts(server, certs.ca)), ["mongodb"], strict=True, timeout=0.5
    ).ok


def test_tls_against_a_server_without_tls_is_one_line_within_the_timeout(certs):
    with FakeMongoServer(USER, PASSWORD) as server:
        started = time.monotonic()
        report = doctor(timeout=1.0, **parts(server, certs.ca))
        elapsed = time.monotonic() - started
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "may not speak TLS" in check.detail and "MONGO_TLS=false" in check.hint
    assert elapsed < 1.5


def test_mongodb_url_with_tls_options(certs):
    with tls_server(certs.server) as server:
        url = (
            f"mongodb://{USER}:m0ngo%25s3cret%2Fpw@127.0.0.1:{server.port}/"
            f"?tls=true&authSource=macro_auth&tlsCAFile={certs.ca}"
        )
        report = doctor(mongo_url=url)
    main, tls = report.checks
    assert main.status == "ok", main
    assert tls.status == "ok"
    assert set(server.auth_databases) == {"macro_auth"}


def test_srv_url_that_does_not_resolve_is_one_line(monkeypatch):
    import dns.resolver

    looked_up = []

    def no_such_name(name, *args, **kwargs):
        looked_up.append(str(name))
        raise dns.resolver.NXDOMAIN(qnames=[name])

    # No resolver of this machine is asked: the lookup itself is replaced.
    monkeypatch.setattr(dns.resolver, "resolve", no_such_name)
    quoted = PASSWORD.replace("%", "%25").replace("/", "%2F")
    url = f"mongodb+srv://{USER}:{quoted}@cluster0.example.test/"
    report = doctor(mongo_url=url)
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "dns")
    assert check.detail.startswith("cannot resolve the SRV record of cluster0.example.test")
    assert "MONGO_URL" in check.hint
    assert looked_up and looked_up[0].startswith("_mongodb._tcp.cluster0.example.test")


@pytest.mark.parametrize("insecure_option", ["tls=false", "ssl=false"])
def test_srv_url_may_turn_tls_off(insecure_option):
    from macroinfra.connections import mongo

    settings = load_settings(
        None, mongo_url=f"mongodb+srv://u:p@db.example.test/?{insecure_option}"
    )
    assert mongo.target(settings).tls is False
    assert mongo.client_options(settings)["tls"] is False


def test_strict_fails_a_plaintext_service_off_this_machine():
    from macroinfra.probes.strict import plaintext_checks

    with FakeMongoServer(USER, PASSWORD) as server:
        report = doctor(mongo_port=server.port, mongo_user=USER, mongo_password=PASSWORD)
    (check,) = report.checks
    assert check.info["encrypted"] is False
    # The same answer, had the server been another machine (no traffic is sent there).
    remote = load_settings(None, mongo_host="db.example.test")
    (line,) = plaintext_checks(remote, report.checks)
    assert (line.name, line.status, line.reason) == ("mongodb: encryption", "failed", "plaintext")
    assert plaintext_checks(load_settings(None), report.checks) == []


def test_plaintext_against_a_tls_server_is_one_line_within_the_timeout(certs):
    with tls_server(certs.server) as server:
        started = time.monotonic()
        report = doctor(timeout=1.0, **{**parts(server), "mongo_tls": False})
        elapsed = time.monotonic() - started
    (check,) = report.checks
    assert (check.status, check.reason) == ("failed", "tls")
    assert "it may expect TLS" in check.detail and "MONGO_TLS=true" in check.hint
    assert server.tls_failures  # the server did see a client that did not speak TLS
    assert elapsed < 1.5


def test_the_built_url_connects_pymongo_over_tls_and_is_shown_masked(certs):
    from pymongo import MongoClient

    from macroinfra.connections import mongo

    with tls_server(certs.server) as server:
        settings = load_settings(None, **parts(server, certs.ca, mongo_auth_source="macro_auth"))
        url = mongo.build_url(settings, PASSWORD)
        client = MongoClient(url, serverSelectionTimeoutMS=3000)
        try:
            assert client.admin.command("ping")["ok"] == 1.0
        finally:
            client.close()
        assert set(server.auth_databases) == {"macro_auth"} and set(server.tls_versions) == {
            "TLSv1.3"
        }
    shown = mongo.display_url(settings)
    assert shown == (
        f"mongodb://{USER}:***@127.0.0.1:{server.port}/?authSource=macro_auth&tls=true"
        f"&tlsCAFile={certs.ca}"
    )
    assert mongo.secrets(settings) == []  # the password came from MONGO_PASSWORD, not a URL
