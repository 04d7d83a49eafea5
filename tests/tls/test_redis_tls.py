"""Redis over real TLS (tls-port only) with an ACL user: the CA given verifies; a wrong CA, a
certificate for another host name and an expired one each fail with their own line and fix;
the cache, `status --env` and a rediss:// REDIS_URL reach it."""

from __future__ import annotations

import io

import redis
from dotenv import dotenv_values
from helpers import Cli, doctor_checks
from tls.servers import redis_serving

from macroinfra.cache import Cache
from macroinfra.settings import Settings, load_settings

SECRET = "tls redis%pass"


def doctor(settings: Settings, **env: str) -> tuple[int, dict, str]:
    return doctor_checks(settings, "redis", env=env)


def test_tls_with_the_acl_user_passes_and_reports_the_tls(tls_stack):
    assert tls_stack.redis_tls and tls_stack.redis_username == "app"
    code, checks, output = doctor(tls_stack)
    main, tls = checks["redis"], checks["redis: tls"]
    assert code == 0, output
    assert main["status"] == "ok" and "authenticated as app" in main["detail"]
    assert main["info"]["encrypted"] is True
    assert tls["status"] == "ok" and tls["info"]["verified"] is True
    assert tls["info"]["protocol"].startswith("TLSv1.") and tls["info"]["days_left"] > 300
    assert SECRET not in output


def test_the_cache_speaks_tls_as_the_acl_user(tls_stack):
    cache = Cache(tls_stack)
    try:
        assert cache.client().acl_whoami() == "app"
        conn = cache.client().connection_pool.get_connection()
        try:
            assert conn._sock.version().startswith("TLSv1.")
        finally:
            cache.client().connection_pool.release(conn)
    finally:
        cache.close()


def test_a_plain_client_is_turned_away_with_the_fix(tls_stack):
    code, checks, _ = doctor(
        tls_stack, MACROINFRA_LOCAL_TLS="off", REDIS_TLS="off", REDIS_TLS_CA=""
    )
    main = checks["redis"]
    assert code == 1 and main["reason"] == "tls"
    assert "REDIS_TLS=on" in main["hint"]


def test_a_wrong_ca_fails_with_the_ca_to_set(tls_stack, tls_certs):
    code, checks, output = doctor(tls_stack, REDIS_TLS_CA=str(tls_certs.other_ca))
    main = checks["redis"]
    assert code == 1 and main["reason"] == "tls"
    assert "not signed by the CA given" in main["detail"]
    assert main["hint"].startswith("set REDIS_TLS_CA to the CA that signed")
    assert SECRET not in output


def test_a_certificate_for_another_host_name_fails(tls_stack, tls_certs):
    with redis_serving(tls_stack, tls_certs.wrong_host):
        code, checks, _ = doctor(tls_stack, REDIS_TLS_CA=str(tls_certs.ca))
    main = checks["redis"]
    assert code == 1 and main["reason"] == "tls"
    assert "not for 127.0.0.1" in main["detail"]


def test_an_expired_certificate_fails(tls_stack, tls_certs):
    with redis_serving(tls_stack, tls_certs.expired):
        code, checks, _ = doctor(tls_stack, REDIS_TLS_CA=str(tls_certs.ca))
    main = checks["redis"]
    assert code == 1 and main["reason"] == "tls"
    assert "expired" in main["detail"] and main["hint"] == "renew the server's certificate"


def test_a_certificate_expiring_soon_is_a_warning(tls_stack, tls_certs):
    with redis_serving(tls_stack, tls_certs.expiring):
        code, checks, _ = doctor(tls_stack, REDIS_TLS_CA=str(tls_certs.ca))
    tls = checks["redis: tls"]
    assert tls["status"] == "warning" and tls["reason"] == "tls_expiring"
    assert code == 0  # a warning passes, except under --strict


def test_a_wrong_acl_password_is_an_authentication_failure(tls_stack):
    code, checks, output = doctor(tls_stack, REDIS_PASSWORD="not-it")
    main = checks["redis"]
    assert code == 1 and main["reason"] == "auth"
    assert main["hint"] == "check REDIS_USERNAME and REDIS_PASSWORD"
    assert "not-it" not in output


def test_status_env_redis_url_is_rediss_with_its_ca_and_connects(tls_stack):
    result = Cli(tls_stack)("status", "--env")
    assert result.exit_code == 0, result.output
    values = dotenv_values(stream=io.StringIO(result.stdout))
    url = values["REDIS_URL"]
    assert url.startswith("rediss://app:") and "ssl_ca_certs=" in url
    assert values["REDIS_TLS_CA"] == str(tls_stack.state_dir / "tls" / "ca.crt")
    with redis.Redis.from_url(url) as client:
        assert client.acl_whoami() in ("app", b"app")


def test_a_rediss_url_in_place_of_the_parts(tls_stack, monkeypatch):
    url = Cli(tls_stack)("status", "--env").stdout
    values = dotenv_values(stream=io.StringIO(url))
    monkeypatch.setenv("REDIS_URL", values["REDIS_URL"])
    monkeypatch.setenv("MACROINFRA_STATE_DIR", str(tls_stack.state_dir))
    settings = load_settings(None)
    assert settings.redis_tls is True and settings.redis_username == "app"
    assert settings.redis_port == tls_stack.redis_port
    assert settings.redis_tls_ca == tls_stack.state_dir / "tls" / "ca.crt"
    cache = Cache(settings)
    try:
        assert cache.client().ping() is True
    finally:
        cache.close()
