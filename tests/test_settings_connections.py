"""Connection settings: DATABASE_URL and REDIS_URL in place of the parts, the combinations
that cannot work (exit 2, one line each, no secret echoed), secret files, and the TLS
parameters every URL carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import make_url

from macroinfra.connections.postgres import client_environment, connect_kwargs
from macroinfra.connections.redis import client_kwargs
from macroinfra.errors import ConfigError
from macroinfra.settings import load_settings

SECRET = "s3cr%t-Value'@/"
QUOTED = "s3cr%25t-Value%27%40%2F"


def problems_of(monkeypatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert info.value.exit_code == 2
    text = "\n".join([info.value.message, *info.value.problems, info.value.hint or ""])
    assert SECRET not in text and QUOTED not in text
    return info.value.problems


# -- DATABASE_URL ------------------------------------------------------------------------------


def test_database_url_fills_the_parts(monkeypatch, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    url = f"postgresql://analyst:{QUOTED}@db.internal:6543/research?sslmode=verify-full"
    monkeypatch.setenv("DATABASE_URL", f"{url}&sslrootcert={ca}&connect_timeout=7")
    s = load_settings(None)
    assert (s.postgres_host, s.postgres_port, s.postgres_user, s.postgres_db) == (
        "db.internal",
        6543,
        "analyst",
        "research",
    )
    assert s.postgres_password.get_secret_value() == SECRET
    assert (s.postgres_sslmode, s.postgres_sslrootcert) == ("verify-full", ca)
    parsed = make_url(s.sync_database_url)
    assert parsed.password == SECRET
    assert parsed.query == {
        "sslmode": "verify-full",
        "sslrootcert": str(ca),
        "connect_timeout": "7",
    }
    kwargs = connect_kwargs(s)
    assert kwargs["sslmode"] == "verify-full" and kwargs["connect_timeout"] == "7"
    assert client_environment(s) == {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(ca)}


def test_the_parsed_database_url_is_shared_but_not_changed_by_its_callers(monkeypatch):
    from macroinfra.connections import postgres

    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://analyst@db.internal/research?connect_timeout=7"
    )
    s = load_settings(None)
    postgres.url_extras(s)["connect_timeout"] = "99"
    postgres.url_fields(s)["postgres_host"] = "elsewhere.internal"
    assert postgres.url_extras(s) == {"connect_timeout": "7"}
    assert postgres.url_fields(s)["postgres_host"] == "db.internal"
    assert connect_kwargs(s)["connect_timeout"] == "7"


def test_database_url_and_a_part_agreeing_is_fine(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/db")
    monkeypatch.setenv("POSTGRES_PORT", "5432")
    assert load_settings(None).postgres_db == "db"


def test_database_url_and_parts_disagreeing_exit_2_one_line_each(monkeypatch):
    found = problems_of(
        monkeypatch,
        DATABASE_URL=f"postgresql://u:{QUOTED}@127.0.0.1:5432/db",
        POSTGRES_PORT="5433",
        POSTGRES_PASSWORD="another",
    )
    assert found == [
        "DATABASE_URL and POSTGRES_PORT disagree: set one of them, not both",
        "DATABASE_URL and POSTGRES_PASSWORD disagree: set one of them, not both",
    ]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        (f"mysql://u:{QUOTED}@h/db", "must start with postgresql:// or postgres://"),
        (f"postgresql://u:{QUOTED}@h:99999/db", "port from 1 to 65535"),
        (f"postgresql://u:{QUOTED}@h/db?sslmode=sometimes", "sslmode must be one of"),
        (f"postgresql://u:{QUOTED}@h/db?no_such_option=1", "libpq does not know: no_such_option"),
        (f"postgresql://u:{QUOTED}@h/db?password=x", "put it in the URL itself"),
        (f"postgresql://u:{QUOTED}@h1,h2/db", "one host only"),
        (f"postgresql://u:{QUOTED}@h/db#frag", "#fragment"),
    ],
)
def test_an_invalid_database_url_is_one_line_without_the_url(monkeypatch, url, rule):
    (line,) = problems_of(monkeypatch, DATABASE_URL=url)
    assert line.startswith("DATABASE_URL: ") and rule in line


# -- TLS combinations ----------------------------------------------------------------------------


def test_verify_full_without_a_ca_cannot_work(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql/root.crt
    (line,) = problems_of(monkeypatch, POSTGRES_SSLMODE="verify-full")
    assert "POSTGRES_SSLMODE=verify-full needs the CA" in line
    assert "POSTGRES_SSLROOTCERT" in line and "'system'" in line


def test_verify_full_with_the_system_store_is_accepted(monkeypatch):
    monkeypatch.setenv("POSTGRES_SSLMODE", "verify-full")
    monkeypatch.setenv("POSTGRES_SSLROOTCERT", "system")
    s = load_settings(None)
    assert make_url(s.libpq_url).query["sslrootcert"] == "system"


def test_missing_tls_files_and_a_lone_client_cert(monkeypatch, tmp_path):
    found = problems_of(
        monkeypatch,
        POSTGRES_SSLMODE="require",
        POSTGRES_SSLROOTCERT=str(tmp_path / "nope.crt"),
        POSTGRES_SSLCERT=str(tmp_path / "client.crt"),
    )
    assert f"POSTGRES_SSLROOTCERT: no readable file at {tmp_path / 'nope.crt'}" in found
    assert any(
        line.startswith("POSTGRES_SSLCERT and POSTGRES_SSLKEY go together") for line in found
    )


def test_a_client_key_open_to_others_is_refused_as_libpq_would(monkeypatch, tmp_path):
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    cert.write_text("x")
    key.write_text("x")
    key.chmod(0o644)
    found = problems_of(monkeypatch, POSTGRES_SSLCERT=str(cert), POSTGRES_SSLKEY=str(key))
    assert found == [
        f"POSTGRES_SSLKEY: {key} is open to other users and libpq refuses it: chmod 600 {key}"
    ]


def test_default_sslmode_adds_nothing_to_the_urls(monkeypatch):
    s = load_settings(None)
    assert "?" not in s.libpq_url and "PGSSLMODE" in client_environment(s)


# -- Redis -------------------------------------------------------------------------------------


def test_rediss_url_fills_the_parts(monkeypatch, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    monkeypatch.setenv("REDIS_URL", f"rediss://app:{QUOTED}@cache.internal:6380/3")
    monkeypatch.setenv("REDIS_TLS_CA", str(ca))
    s = load_settings(None)
    assert (s.redis_host, s.redis_port, s.redis_db, s.redis_username) == (
        "cache.internal",
        6380,
        3,
        "app",
    )
    assert s.redis_tls is True and s.redis_password.get_secret_value() == SECRET
    kwargs = client_kwargs(s)
    assert kwargs["ssl"] is True and kwargs["ssl_ca_certs"] == str(ca)
    assert kwargs["ssl_cert_reqs"] == "required" and kwargs["ssl_check_hostname"] is True
    assert s.redis_connection_url.startswith(f"rediss://app:{QUOTED}@cache.internal:6380/3?")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REDIS_URL": "http://h:1/0"}, "REDIS_URL: must start with redis:// or rediss://"),
        ({"REDIS_URL": "redis://h:1/99"}, "REDIS_URL: the path must be a database number"),
        ({"REDIS_URL": "redis://h:1/0?foo=1"}, "REDIS_URL: only the query parameter"),
        (
            {"REDIS_URL": f"rediss://u:{QUOTED}@h:1/0", "REDIS_TLS": "off"},
            "REDIS_URL and REDIS_TLS disagree: set one of them, not both",
        ),
        ({"REDIS_TLS_CA": "/etc/hostname"}, "REDIS_TLS_CA is set but REDIS_TLS is off"),
        ({"REDIS_USERNAME": "app"}, "REDIS_USERNAME is set without REDIS_PASSWORD"),
    ],
)
def test_redis_combinations_that_cannot_work(monkeypatch, env, expected):
    found = problems_of(monkeypatch, **env)
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_at_once(cli, tmp_path):
    env = {
        "HOME": str(tmp_path),
        "POSTGRES_SSLMODE": "verify-ca",
        "REDIS_USERNAME": "app",
        "DATABASE_URL": f"postgresql://u:{QUOTED}@h/db",
        "POSTGRES_HOST": "other",
    }
    result = cli("config", "show", env=env)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "DATABASE_URL and POSTGRES_HOST disagree" in result.stderr
    assert "POSTGRES_SSLMODE=verify-ca needs the CA" in result.stderr
    assert "REDIS_USERNAME is set without REDIS_PASSWORD" in result.stderr
    assert SECRET not in result.output and QUOTED not in result.output


# -- secret files --------------------------------------------------------------------------------


def test_a_secret_from_a_file_named_by_the_environment(cli, tmp_path):
    secret = tmp_path / "pg_password"
    secret.write_text(SECRET + "\n")
    result = cli("config", "show", "--json", env={"POSTGRES_PASSWORD_FILE": str(secret)})
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["POSTGRES_PASSWORD"]["source"] == f"file ({secret})"
    assert rows["POSTGRES_PASSWORD"]["value"] == "***"
    assert SECRET not in result.output


def test_a_secret_file_named_in_the_env_file(monkeypatch, tmp_path):
    secret = tmp_path / "redis_password"
    secret.write_text(SECRET)
    env_file = tmp_path / ".env"
    env_file.write_text(f"REDIS_PASSWORD_FILE={secret}\nFRED_API_KEY_FILE={secret}\n")
    s = load_settings(env_file)
    assert s.redis_password.get_secret_value() == SECRET
    assert s.fred_api_key.get_secret_value() == SECRET


def test_the_variable_and_its_file_both_set(monkeypatch, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x")
    found = problems_of(monkeypatch, POSTGRES_PASSWORD=SECRET, POSTGRES_PASSWORD_FILE=str(secret))
    assert found == ["POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are both set: keep one"]


@pytest.mark.parametrize("kind", ["missing", "empty", "folder"])
def test_an_unreadable_secret_file_is_one_line(monkeypatch, tmp_path, kind):
    path = tmp_path / "pw"
    if kind == "empty":
        path.write_text("\n")
    elif kind == "folder":
        path.mkdir()
    (line,) = problems_of(monkeypatch, MONGO_PASSWORD_FILE=str(path))
    assert line.startswith(
        f"MONGO_PASSWORD_FILE: {path}"
        if kind == "empty"
        else f"MONGO_PASSWORD_FILE: cannot read {path}"
    )


def test_file_variables_are_not_taken_for_misspellings(monkeypatch, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(secret))
    # A SASL password is only valid with a SASL protocol, a mechanism and a user.
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ingest")
    assert load_settings(None).warnings == []


# -- config show --------------------------------------------------------------------------------


def test_config_show_names_computed_urls_apart_from_the_settings(cli):
    env = {"REDIS_URL": f"redis://default:{QUOTED}@127.0.0.1:6379/0"}
    result = cli("config", "show", "--json", env=env)
    rows = json.loads(result.stdout)["settings"]
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    by_name = {r["name"]: r for r in rows}
    assert by_name["REDIS_URL"]["source"] == "environment" and by_name["REDIS_URL"]["secret"]
    assert by_name["redis_connection_url"]["source"] == "computed"
    assert by_name["redis_connection_url"]["value"] == "redis://default:***@127.0.0.1:6379/0"
    assert SECRET not in result.output and QUOTED not in result.output


def test_local_tls_makes_the_clients_verify_the_local_ca(monkeypatch, tmp_path):
    monkeypatch.setenv("MACROINFRA_LOCAL_TLS", "on")
    monkeypatch.setenv("MACROINFRA_STATE_DIR", str(tmp_path))
    s = load_settings(None)  # the CA does not exist yet: `up` makes it
    ca = Path(tmp_path) / "tls" / "ca.crt"
    assert (s.postgres_sslmode, s.postgres_sslrootcert) == ("verify-full", ca)
    assert (s.redis_tls, s.redis_tls_ca) == (True, ca)
    monkeypatch.setenv("POSTGRES_SSLMODE", "require")
    assert load_settings(None).postgres_sslmode == "require"  # an explicit setting wins


CONNECTION_VARIABLES = [
    "POSTGRES_SSLMODE",
    "POSTGRES_SSLROOTCERT",
    "POSTGRES_SSLCERT",
    "POSTGRES_SSLKEY",
    "DATABASE_URL",
    "REDIS_USERNAME",
    "REDIS_TLS",
    "REDIS_TLS_CA",
    "REDIS_URL",
    "MACROINFRA_LOCAL_TLS",
    "POSTGRES_PASSWORD_FILE",
]


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_the_connection_variables_are_documented(document):
    text = (Path(__file__).parent.parent / document).read_text()
    assert [v for v in CONNECTION_VARIABLES if v not in text] == []


def test_env_example_examples_are_valid_settings(tmp_path):
    example = (Path(__file__).parent.parent / ".env.example").read_text()
    lines = [ln.removeprefix("# ") for ln in example.splitlines()]
    urls = [ln for ln in lines if ln.startswith(("DATABASE_URL=", "REDIS_URL="))]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(urls) + "\n")
    with pytest.raises(ConfigError) as info:  # its CA path is a placeholder: only that
        load_settings(env_file)
    assert info.value.problems == ["POSTGRES_SSLROOTCERT: no readable file at /path/to/ca.crt"]


def test_config_show_names_the_url_as_the_source_of_the_parts_it_gave(cli):
    env = {"DATABASE_URL": f"postgresql://u:{QUOTED}@127.0.0.1:6000/db", "POSTGRES_USER": "u"}
    result = cli("config", "show", "--json", env=env)
    rows = {r["name"]: r for r in json.loads(result.stdout)["settings"]}
    assert (rows["POSTGRES_PORT"]["value"], rows["POSTGRES_PORT"]["source"]) == (
        6000,
        "DATABASE_URL",
    )
    assert rows["POSTGRES_PASSWORD"]["source"] == "DATABASE_URL"
    assert rows["POSTGRES_USER"]["source"] == "environment"
    assert rows["REDIS_PORT"]["source"] == "default"
    assert SECRET not in result.output and QUOTED not in result.output


def test_a_secret_query_parameter_of_database_url_is_redacted_when_shown(cli):
    url = f"postgresql://u:{QUOTED}@127.0.0.1/db?sslpassword=keypass-{QUOTED}"
    result = cli("config", "show", "--json", env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["sync_database_url"]["value"].endswith("/db?sslpassword=***")
    assert "keypass" not in result.output and QUOTED not in result.output
    settings = load_settings(None, database_url=url)
    assert make_url(settings.sync_database_url).query["sslpassword"] == f"keypass-{SECRET}"


def test_pg_clients_get_the_tls_settings_in_their_environment_not_their_command_line(tmp_path):
    from macroinfra.backup.clients import connection_env

    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    settings = load_settings(
        None, postgres_sslmode="verify-full", postgres_sslrootcert=ca, postgres_password=SECRET
    )
    env = connection_env(settings)
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", str(ca))
    assert env["PGPASSWORD"] == SECRET
    inside = connection_env(settings, inside_container=True)  # the host's files are not there
    assert "PGSSLMODE" not in inside and "PGSSLROOTCERT" not in inside


def test_a_connection_url_from_a_secret_file(monkeypatch, tmp_path):
    secret = tmp_path / "database_url"
    secret.write_text(f"postgresql://analyst:{QUOTED}@127.0.0.1:6543/research\n")
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    s = load_settings(None)
    assert (s.postgres_user, s.postgres_port, s.postgres_db) == ("analyst", 6543, "research")
    assert s.postgres_password.get_secret_value() == SECRET
