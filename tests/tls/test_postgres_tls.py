"""PostgreSQL over real TLS (the local runtime with MACROINFRA_LOCAL_TLS=on): verify-full with
the right CA passes; a wrong CA, a certificate for another host name and an expired one each
fail with their own line and fix; every command that connects honours the TLS settings."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from helpers import Cli, doctor_checks, scratch_database
from tls.servers import postgres_serving

from macroinfra.settings import Settings

# sslmode=require, and no CA: libpq checks nothing (with a CA file it would check the chain).
UNCHECKED = {
    "MACROINFRA_LOCAL_TLS": "off",
    "POSTGRES_SSLMODE": "require",
    "POSTGRES_SSLROOTCERT": "",
}


def doctor(settings: Settings, **env: str) -> tuple[int, dict, str]:
    return doctor_checks(settings, "timescaledb", env=env)


@pytest.fixture
def tls_database(tls_stack: Settings) -> Iterator[Settings]:
    """A database of its own on the TLS stack (its settings' URL carries the TLS parameters)."""
    with scratch_database(tls_stack, "tls") as settings:
        yield settings


def test_verify_full_with_the_right_ca_passes_and_reports_the_tls(tls_stack):
    assert tls_stack.postgres_sslmode == "verify-full"
    assert tls_stack.postgres_sslrootcert == tls_stack.state_dir / "tls" / "ca.crt"
    code, checks, _ = doctor(tls_stack)
    main, tls = checks["timescaledb"], checks["timescaledb: tls"]
    assert main["info"]["encrypted"] is True and "over TLSv1." in main["detail"]
    assert tls["status"] == "ok", tls
    assert tls["info"]["verified"] is True and tls["info"]["protocol"].startswith("TLSv1.")
    assert 300 < tls["info"]["days_left"] <= 397
    assert code == 0  # its database is not migrated: a warning


def test_the_connection_is_encrypted_in_the_server_view(tls_stack):
    with psycopg.connect(tls_stack.libpq_url) as conn:
        assert conn.pgconn.ssl_in_use
        row = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row[0] is True and row[1].startswith("TLSv1.")


def test_a_wrong_ca_fails_with_the_ca_to_set(tls_stack, tls_certs):
    code, checks, output = doctor(tls_stack, POSTGRES_SSLROOTCERT=str(tls_certs.other_ca))
    main = checks["timescaledb"]
    assert code == 1 and main["status"] == "failed" and main["reason"] == "tls"
    assert "not signed by the CA given" in main["detail"]
    assert main["hint"].startswith("set POSTGRES_SSLROOTCERT to the CA that signed")
    assert str(tls_certs.other_ca) in main["hint"]
    assert "tls pg%pass" not in output


def test_a_certificate_for_another_host_name_fails(tls_stack, tls_certs):
    with postgres_serving(tls_stack, tls_certs.wrong_host):
        code, checks, _ = doctor(tls_stack, POSTGRES_SSLROOTCERT=str(tls_certs.ca))
    main = checks["timescaledb"]
    assert code == 1 and main["reason"] == "tls"
    assert "not for 127.0.0.1" in main["detail"]
    assert "a name the certificate holds" in main["hint"]


def test_an_expired_certificate_fails(tls_stack, tls_certs):
    with postgres_serving(tls_stack, tls_certs.expired):
        code, checks, _ = doctor(tls_stack, POSTGRES_SSLROOTCERT=str(tls_certs.ca))
    main = checks["timescaledb"]
    assert code == 1 and main["reason"] == "tls"
    assert "expired" in main["detail"] and main["hint"] == "renew the server's certificate"


def test_an_expired_certificate_fails_even_when_the_client_does_not_check(tls_stack, tls_certs):
    with postgres_serving(tls_stack, tls_certs.expired):
        code, checks, _ = doctor(tls_stack, **UNCHECKED)
    tls = checks["timescaledb: tls"]
    assert code == 1 and tls["status"] == "failed" and tls["reason"] == "tls_expired"
    assert tls["info"]["days_left"] < 0


def test_a_certificate_expiring_soon_is_a_warning(tls_stack, tls_certs):
    with postgres_serving(tls_stack, tls_certs.expiring):
        _, checks, _ = doctor(tls_stack, POSTGRES_SSLROOTCERT=str(tls_certs.ca))
    tls = checks["timescaledb: tls"]
    assert tls["status"] == "warning" and tls["reason"] == "tls_expiring"
    assert 8 <= tls["info"]["days_left"] <= 10 and "renew" in tls["hint"]


def test_sslmode_require_is_encrypted_but_reported_unverified(tls_stack):
    code, checks, _ = doctor(tls_stack, **UNCHECKED)
    tls = checks["timescaledb: tls"]
    assert tls["status"] == "warning" and tls["info"]["verified"] is False
    assert "POSTGRES_SSLMODE=verify-full" in tls["hint"]


def test_sslmode_disable_is_refused_by_this_server_and_said_so(tls_stack):
    env = {**UNCHECKED, "POSTGRES_SSLMODE": "disable"}
    code, checks, _ = doctor(tls_stack, **env)
    assert code == 1 and "no encryption" in checks["timescaledb"]["detail"]
    assert "timescaledb: tls" not in checks


def test_a_server_without_tls_is_reported_not_encrypted(stack_settings):
    _, checks, _ = doctor(stack_settings)
    main = checks["timescaledb"]
    assert main["info"]["encrypted"] is False  # on this machine: not in its line
    assert "encrypted" not in main["detail"] and "TLS" not in main["detail"]
    assert "timescaledb: tls" not in checks


def test_require_against_a_server_without_tls_says_so(stack_settings):
    code, checks, _ = doctor(stack_settings, POSTGRES_SSLMODE="require")
    main = checks["timescaledb"]
    assert code == 1 and main["reason"] == "tls"
    assert "does not offer TLS" in main["detail"]


def test_a_dump_goes_over_tls(tls_database, tmp_path):
    cli = Cli(tls_database)
    assert cli("migrate").exit_code == 0
    file = tmp_path / "tls.dump"
    dumped = cli("db", "dump", str(file), "--json")
    assert dumped.exit_code == 0, dumped.output  # plain connections are refused here
    assert file.stat().st_size > 0


def test_migrate_seed_schema_and_loader_work_over_tls_and_honour_the_ca(tls_database, tls_certs):
    cli = Cli(tls_database)
    wrong = cli("migrate", env={"POSTGRES_SSLROOTCERT": str(tls_certs.other_ca)})
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output
    assert "certificate" in wrong.output
    assert cli("migrate").exit_code == 0
    seeded = cli("seed", "demo")
    assert seeded.exit_code == 0, seeded.output
    shown = cli("schema", "show", "--json")
    assert shown.exit_code == 0, shown.output
    assert "market_data" in shown.stdout
    with psycopg.connect(tls_database.libpq_url) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT count(*) FROM market_data").fetchone()[0] > 0


def test_the_loader_works_over_tls_and_honours_the_ca(tls_database, tls_certs):
    from macroinfra import migrations
    from macroinfra.data.loader import load
    from macroinfra.db import Database

    db = Database(tls_database)
    try:
        migrations.upgrade(db)
        result = load(db, "data_sources", [{"name": "tls", "description": "over TLS"}])
        assert result.inserted == 1
        with db.engine.connect() as conn:
            ssl_on = conn.exec_driver_sql(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).scalar()
        assert ssl_on is True
    finally:
        db.dispose()
    wrong = Database(tls_database.model_copy(update={"postgres_sslrootcert": tls_certs.other_ca}))
    try:
        with pytest.raises(Exception, match="certificate"):
            load(wrong, "data_sources", [{"name": "no", "description": "refused"}])
    finally:
        wrong.dispose()


def test_status_env_urls_carry_the_sslmode_and_connect(tls_stack):
    result = Cli(tls_stack)("status", "--env")
    assert result.exit_code == 0, result.output
    import io

    from dotenv import dotenv_values

    values = dotenv_values(stream=io.StringIO(result.stdout))
    url = values["DATABASE_URL"]
    assert "sslmode=verify-full" in url and "sslrootcert=" in url
    assert values["PGSSLROOTCERT"] == str(tls_stack.state_dir / "tls" / "ca.crt")
    with psycopg.connect(url) as conn:
        assert conn.pgconn.ssl_in_use
    import sqlalchemy

    engine = sqlalchemy.create_engine(values["SQLALCHEMY_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            ssl_on = conn.exec_driver_sql(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).scalar()
        assert ssl_on is True
    finally:
        engine.dispose()


def test_a_client_certificate_from_the_settings(tls_stack, tls_certs):
    from tls.servers import postgres_asking_client_certificates

    pair = {
        "POSTGRES_SSLCERT": str(tls_certs.client.cert),
        "POSTGRES_SSLKEY": str(tls_certs.client.key),
    }
    with postgres_asking_client_certificates(tls_stack, tls_certs.ca, tls_certs.client):
        without, checks, _ = doctor(tls_stack)
        main = checks["timescaledb"]
        assert without == 1 and (main["status"], main["reason"]) == ("failed", "tls")
        assert "requires a client certificate" in main["detail"]
        assert main["hint"].startswith("set POSTGRES_SSLCERT and POSTGRES_SSLKEY")
        _, checks, output = doctor(tls_stack, **pair)
        assert checks["timescaledb"]["status"] != "failed", output
        assert checks["timescaledb: tls"]["status"] == "ok"
