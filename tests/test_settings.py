"""Settings: sources and precedence, computed URLs, validation errors, and redaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from macroinfra.errors import ConfigError
from macroinfra.settings import load_settings

SECRET = "s3cr%t-Value'@/"


def test_defaults_match_env_example():
    example = Path(__file__).parent.parent / ".env.example"
    settings = load_settings(example)
    assert settings.postgres_port == 5432
    assert settings.postgres_user == "macro_user"
    assert settings.redis_password is None  # REDIS_PASSWORD= (empty) means no AUTH
    assert settings.runtime == "auto"


def test_urls_round_trip_a_password_with_special_characters(monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    monkeypatch.setenv("REDIS_PASSWORD", SECRET)
    s = load_settings()
    for url in (s.sync_database_url, s.async_database_url):
        parsed = make_url(url)
        assert parsed.password == SECRET
        assert parsed.host == "127.0.0.1"
    assert make_url(s.sync_database_url).drivername == "postgresql+psycopg"
    assert make_url(s.async_database_url).drivername == "postgresql+psycopg_async"
    assert s.mongo_connection_url.endswith("/?authSource=admin")
    assert s.minio_url == "http://127.0.0.1:9000"
    import redis

    pool = redis.ConnectionPool.from_url(s.redis_connection_url)
    assert pool.connection_kwargs["password"] == SECRET
    assert all(SECRET not in u for u in s.redacted_urls().values())


def test_environment_beats_env_file_and_flags_beat_both(tmp_path, monkeypatch):
    env_file = tmp_path / "custom.env"
    env_file.write_text("POSTGRES_PORT=6000\nREDIS_PORT=6001\nUNRELATED=1\n")
    monkeypatch.setenv("REDIS_PORT", "7001")
    s = load_settings(env_file, postgres_db="flagged")
    assert (s.postgres_port, s.redis_port, s.postgres_db) == (6000, 7001, "flagged")


def test_macroinfra_settings_read_only_their_prefixed_names(monkeypatch):
    monkeypatch.setenv("RUNTIME", "external")
    monkeypatch.setenv("STATE_DIR", "/elsewhere")
    s = load_settings()
    assert s.runtime == "auto" and str(s.state_dir) != "/elsewhere"
    monkeypatch.setenv("MACROINFRA_RUNTIME", "external")
    assert load_settings().runtime == "external"


def test_no_secret_in_repr_or_dump(monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    monkeypatch.setenv("MONGO_PASSWORD", SECRET)
    s = load_settings()
    assert make_url(s.sync_database_url).password == SECRET  # the URL carries it, for the driver
    for text in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert SECRET not in text
        assert "sync_database_url" not in text


def test_env_file_values_are_taken_literally(tmp_path):
    env_file = tmp_path / "dollar.env"
    env_file.write_text("POSTGRES_PASSWORD='pa$$wo${x}rd'\nREDIS_PASSWORD=plain${HOME}\n")
    s = load_settings(env_file)
    assert s.postgres_password.get_secret_value() == "pa$$wo${x}rd"
    assert s.redis_password.get_secret_value() == "plain${HOME}"


def test_env_file_named_by_variable(tmp_path, monkeypatch):
    env_file = tmp_path / "other.env"
    env_file.write_text("POSTGRES_DB=from_variable\n")
    monkeypatch.setenv("MACROINFRA_ENV_FILE", str(env_file))
    assert load_settings().postgres_db == "from_variable"


def test_dot_env_in_working_folder_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("POSTGRES_DB=from_dotenv\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().postgres_db == "from_dotenv"


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("POSTGRES_PORT", "abc", "valid integer"),
        ("REDIS_PORT", "70000", "less than or equal to 65535"),
        ("MONGO_PORT", "0", "greater than or equal to 1"),
        ("MACROINFRA_RUNTIME", "docker", "'auto', 'compose', 'local' or 'external'"),
        ("MACROINFRA_PROBE_TIMEOUT", "-1", "greater than 0"),
        ("POSTGRES_HOST", "db.internal/x", "must be a host name or an IP address"),
        ("MINIO_ENDPOINT", "127.0.0.1", "must be host:port"),
        ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092,127.0.0.1:abc", "must be host:port"),
    ],
)
def test_invalid_values_exit_2_naming_variable_and_rule(cli, variable, value, rule):
    result = cli("config", "show", env={variable: value, "POSTGRES_PASSWORD": SECRET})
    assert result.exit_code == 2
    assert f"{variable}: " in result.stderr and rule in result.stderr
    assert "Traceback" not in result.output
    assert SECRET not in result.output


def test_every_problem_is_listed_on_its_own_line(cli):
    result = cli("config", "show", env={"POSTGRES_PORT": "x", "REDIS_PORT": "y"})
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any(ln.strip().startswith("POSTGRES_PORT:") for ln in lines)
    assert any(ln.strip().startswith("REDIS_PORT:") for ln in lines)


def test_invalid_value_that_is_a_secret_is_not_echoed(cli):
    # A password pasted into a numeric variable by mistake must not be printed back.
    result = cli("config", "show", env={"REDIS_DB": SECRET})
    assert result.exit_code == 2
    assert "REDIS_DB" in result.stderr
    assert SECRET not in result.output


def test_malformed_env_file_exits_2_with_line_number(cli, tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("POSTGRES_DB=ok\nthis line is not an assignment\n")
    result = cli("--env-file", str(env_file), "config", "show")
    assert result.exit_code == 2
    assert f"{env_file}:2" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "line", ["POSTGRES_PORT:25432", "POSTGRES_PORT", "root:*:19000:0:99999:7:::"]
)
def test_a_line_without_equals_is_refused_not_ignored(cli, tmp_path, line):
    # Ignored, POSTGRES_PORT:25432 would leave the default port in force: commands would reach
    # whatever listens there. And a file that is no .env at all (/etc/shadow) is refused.
    env_file = tmp_path / "typo.env"
    env_file.write_text(f"POSTGRES_DB=ok\n{line}\n")
    result = cli("--env-file", str(env_file), "config", "show")
    assert result.exit_code == 2
    assert f"{env_file}:2: no `=` in this line" in result.stderr
    assert line not in result.stderr.replace(str(env_file), "")  # the value is not echoed


def test_unreadable_env_file_exits_2(cli, tmp_path):
    folder = tmp_path / "a-folder.env"
    folder.mkdir()  # reading a folder fails for every user, root included
    result = cli("--env-file", str(folder), "config", "show")
    assert result.exit_code == 2
    assert "cannot read env file" in result.stderr


def test_missing_named_env_file_exits_2(cli, tmp_path):
    result = cli("--env-file", str(tmp_path / "nope.env"), "config", "show")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_config_show_json_redacts_secrets_and_names_sources(cli, tmp_path):
    env_file = tmp_path / "x.env"
    env_file.write_text(f"MONGO_PASSWORD={SECRET}\nPOSTGRES_DB=research\n")
    result = cli(
        "--env-file",
        str(env_file),
        "config",
        "show",
        "--json",
        env={"POSTGRES_PASSWORD": SECRET, "REDIS_PASSWORD": SECRET, "FRED_API_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    document = json.loads(result.stdout)
    assert document["env_file"] == str(env_file)
    rows = {r["name"]: r for r in document["settings"]}
    assert rows["POSTGRES_PASSWORD"] == {
        "name": "POSTGRES_PASSWORD",
        "value": "***",
        "source": "environment",
        "secret": True,
    }
    assert rows["MONGO_PASSWORD"]["source"] == f".env ({env_file})"
    assert rows["POSTGRES_DB"]["value"] == "research"
    assert rows["POSTGRES_PORT"]["source"] == "default"
    assert rows["sync_database_url"]["value"].startswith("postgresql+psycopg://macro_user:***@")
    assert ":***@" in rows["redis_connection_url"]["value"]


def test_config_show_human_redacts_secrets(cli):
    result = cli("config", "show", env={"POSTGRES_PASSWORD": SECRET})
    assert result.exit_code == 0
    assert SECRET not in result.output
    assert "***" in result.stdout


def test_load_settings_raises_config_error_with_problems(monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "nope")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.exit_code == 2
    assert info.value.problems == [
        "POSTGRES_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_importing_the_cli_loads_nothing_heavy():
    code = (
        "import sys; import macroinfra.cli.app; "
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'psycopg', 'pydantic', 'redis', "
        "'python_on_whales', 'rich', 'pymongo', 'kafka', 'minio', 'pydantic_settings', "
        "'dotenv', 'hypothesis') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_and_help(cli):
    from macroinfra import __version__

    assert cli("--version").stdout.strip() == f"macroinfra {__version__}"
    for args in (["--help"], ["migrate", "--help"], ["config", "show", "--help"], ["up", "--help"]):
        result = cli(*args)
        assert result.exit_code == 0 and "Usage:" in result.stdout
