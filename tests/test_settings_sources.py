"""Settings: which source supplied each value, as `config show` reports it.

Precedence is flags > environment > .env > defaults, and the source named for a value is the
one whose value the settings hold.
"""

from __future__ import annotations

import json

import pytest
from helpers import free_port

from macroinfra.settings import describe_settings, load_settings


def _show(cli, *args: str, env: dict[str, str] | None = None) -> dict:
    result = cli(*args, "config", "show", "--json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _rows(document: dict) -> dict[str, dict]:
    return {row["name"]: row for row in document["settings"]}


def test_config_show_names_environment_env_file_and_default(cli, tmp_path):
    env_file = tmp_path / "layers.env"
    env_file.write_text("POSTGRES_DB=from_file\nREDIS_PORT=6001\nMACROINFRA_PROBE_TIMEOUT=7\n")
    document = _show(cli, "--env-file", str(env_file), env={"REDIS_PORT": "7001"})
    rows = _rows(document)
    assert (rows["REDIS_PORT"]["value"], rows["REDIS_PORT"]["source"]) == (7001, "environment")
    assert rows["POSTGRES_DB"] == {
        "name": "POSTGRES_DB",
        "value": "from_file",
        "source": f".env ({env_file})",
        "secret": False,
    }
    assert rows["MACROINFRA_PROBE_TIMEOUT"]["source"] == f".env ({env_file})"
    assert rows["MACROINFRA_PROBE_TIMEOUT"]["value"] == 7.0
    assert (rows["MONGO_PORT"]["value"], rows["MONGO_PORT"]["source"]) == (27017, "default")
    assert rows["redis_connection_url"]["source"] == "computed"
    assert document["env_file"] == str(env_file)


def test_flags_beat_environment_beat_env_file_beat_defaults(tmp_path, monkeypatch):
    env_file = tmp_path / "all.env"
    env_file.write_text("POSTGRES_DB=file_db\nPOSTGRES_USER=file_user\nPOSTGRES_HOST=file.host\n")
    monkeypatch.setenv("POSTGRES_DB", "env_db")
    monkeypatch.setenv("POSTGRES_USER", "env_user")
    report = describe_settings(env_file, postgres_db="flag_db", redis_db=None)
    rows = {row.name: row for row in report.settings}
    expected = {
        "POSTGRES_DB": ("flag_db", "command line"),  # flag, environment and .env
        "POSTGRES_USER": ("env_user", "environment"),  # environment and .env
        "POSTGRES_HOST": ("file.host", f".env ({env_file})"),  # .env only
        "REDIS_DB": (0, "default"),  # a flag given as None is a flag not given
    }
    assert {name: (rows[name].value, rows[name].source) for name in expected} == expected
    settings = load_settings(env_file, postgres_db="flag_db")
    assert (settings.postgres_db, settings.postgres_user, settings.postgres_host) == (
        "flag_db",
        "env_user",
        "file.host",
    )


def test_a_flag_for_a_macroinfra_setting_is_named_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MACROINFRA_RUNTIME", "compose")
    report = describe_settings(None, runtime="external", state_dir=tmp_path)
    rows = {row.name: row for row in report.settings}
    assert (rows["MACROINFRA_RUNTIME"].value, rows["MACROINFRA_RUNTIME"].source) == (
        "external",
        "command line",
    )
    assert rows["MACROINFRA_STATE_DIR"].value == str(tmp_path)
    assert rows["MACROINFRA_STATE_DIR"].source == "command line"


def test_empty_environment_variable_falls_through_to_env_file(cli, tmp_path):
    env_file = tmp_path / "fallback.env"
    env_file.write_text("POSTGRES_DB=from_file\nREDIS_PASSWORD=\n")
    rows = _rows(
        _show(cli, "--env-file", str(env_file), env={"POSTGRES_DB": "", "REDIS_PASSWORD": ""})
    )
    assert (rows["POSTGRES_DB"]["value"], rows["POSTGRES_DB"]["source"]) == (
        "from_file",
        f".env ({env_file})",
    )
    # Empty in both: unset, so the default (no password) and not an empty password.
    assert (rows["REDIS_PASSWORD"]["value"], rows["REDIS_PASSWORD"]["source"]) == (None, "default")


def test_env_file_reads_macroinfra_settings_only_by_their_prefixed_names(cli, tmp_path):
    env_file = tmp_path / "bare.env"
    env_file.write_text("RUNTIME=external\nmacroinfra_probe_timeout=9\n")
    rows = _rows(_show(cli, "--env-file", str(env_file)))
    assert (rows["MACROINFRA_RUNTIME"]["value"], rows["MACROINFRA_RUNTIME"]["source"]) == (
        "auto",
        "default",
    )
    assert rows["MACROINFRA_PROBE_TIMEOUT"]["value"] == 9.0  # names are not case-sensitive


def test_dot_env_in_working_folder_is_reported_as_read(cli, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("POSTGRES_DB=from_dotenv\n")
    monkeypatch.chdir(tmp_path)
    document = _show(cli)
    assert document["env_file"] == str(tmp_path / ".env")
    assert _rows(document)["POSTGRES_DB"]["source"] == f".env ({tmp_path / '.env'})"
    human = cli("config", "show")
    assert human.exit_code == 0
    assert f"read .env: {tmp_path / '.env'}" in human.stderr
    assert "read .env" not in human.stdout


def test_no_env_file_found_is_reported(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _show(cli)["env_file"] is None
    human = cli("config", "show")
    assert human.exit_code == 0
    assert f"no .env found in {tmp_path}" in human.stderr


def test_env_file_named_by_variable_must_exist(cli, tmp_path):
    missing = tmp_path / "missing.env"
    result = cli("config", "show", env={"MACROINFRA_ENV_FILE": str(missing)})
    assert result.exit_code == 2
    assert f"env file {missing} does not exist" in result.stderr


def test_env_file_flag_beats_env_file_variable(cli, tmp_path):
    flagged, named = tmp_path / "flag.env", tmp_path / "variable.env"
    flagged.write_text("POSTGRES_DB=from_flag_file\n")
    named.write_text("POSTGRES_DB=from_variable_file\n")
    document = _show(cli, "--env-file", str(flagged), env={"MACROINFRA_ENV_FILE": str(named)})
    assert document["env_file"] == str(flagged)
    assert _rows(document)["POSTGRES_DB"]["value"] == "from_flag_file"


@pytest.mark.parametrize("as_json", [False, True])
def test_malformed_env_file_line_exits_2_naming_it(cli, tmp_path, monkeypatch, as_json):
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_DB=ok\n# a comment\nREDIS_PORT 6380\nMONGO_PORT=1\n")
    monkeypatch.chdir(tmp_path)  # the unnamed ./.env is parsed as strictly as a named one
    result = cli("config", "show", *(["--json"] if as_json else []))
    assert result.exit_code == 2
    assert ".env:3: cannot parse this line" in result.output
    assert ":1:" not in result.output and ":4:" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("POSTGRESS_PORT", "POSTGRES_PORT"),
        ("REDIS_PASWORD", "REDIS_PASSWORD"),
        ("postgres_pasword", "POSTGRES_PASSWORD"),
        ("MACROINFRA_STATEDIR", "MACROINFRA_STATE_DIR"),
    ],
)
def test_a_variable_that_looks_like_ours_gets_a_did_you_mean(cli, name, meant):
    result = cli("config", "show", env={name: "1"})
    assert result.exit_code == 0
    assert f"warning: {name} is not a macroinfra variable: did you mean {meant}?" in result.stderr


def test_a_misspelt_name_in_the_env_file_is_found_too(cli, tmp_path):
    env_file = tmp_path / "team.env"
    env_file.write_text("REDIS_PROT=6380\n")
    result = cli("--env-file", str(env_file), "config", "show")
    assert "REDIS_PROT is not a macroinfra variable: did you mean REDIS_PORT?" in result.stderr


def test_ordinary_variables_are_not_taken_for_misspellings():
    from macroinfra.settings import misspelt_variables

    ordinary = "PATH HOME PGPORT PGPASSWORD REDIS_URL DATABASE_URL LC_ALL DOCKER_HOST"
    ordinary += " XDG_DATA_HOME PYTHONPATH POSTGRES_PORT KAFKA_IMAGE"
    assert misspelt_variables(ordinary.split()) == []


def test_a_failing_command_says_which_env_file_was_read(cli, tmp_path):
    closed = {"POSTGRES_PORT": str(free_port())}
    result = cli("migrate", "status", env=closed)  # run from a folder without .env
    assert result.exit_code == 1
    assert "no .env found in" in result.stderr and "defaults apply" in result.stderr
    env_file = tmp_path / "team.env"
    env_file.write_text(f"POSTGRES_PORT={closed['POSTGRES_PORT']}\n")
    result = cli("--env-file", str(env_file), "doctor", "timescaledb", "--runtime", "external")
    assert result.exit_code == 1 and f"settings read from {env_file}" in result.stderr


def test_a_command_that_succeeds_says_nothing_of_the_env_file(cli):
    result = cli("config", "show", "--json")
    assert "settings read from" not in result.stderr and "defaults apply" not in result.stderr
