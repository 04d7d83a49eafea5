"""The one boundary where failures become a message and an exit code: the exception family,
driver errors that escaped the library, --json documents, and over-long echoed input."""

from __future__ import annotations

import json

import psycopg
import pytest
import typer
from helpers import error_lines, free_port
from typer.testing import CliRunner

from macroinfra.cli.app import RootGroup
from macroinfra.cli.context import Invocation
from macroinfra.cli.options import JsonOption
from macroinfra.errors import from_driver_error


def _app_raising(exc: BaseException) -> typer.Typer:
    """A root group like macroinfra's, with one command that raises `exc`."""
    app = typer.Typer(cls=RootGroup, pretty_exceptions_enable=False)

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = Invocation(None)

    @app.command()
    def fail(*, as_json: JsonOption = False) -> None:
        raise exc

    return app


def _closed_port_error() -> psycopg.OperationalError:
    try:
        psycopg.connect(host="127.0.0.1", port=free_port(), connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("a closed port accepted a connection")


def _bad_sql_error(settings) -> psycopg.Error:
    with psycopg.connect(settings.libpq_url) as conn:
        try:
            conn.execute("SELECT * FROM timescaledb_information.no_such_view")
        except psycopg.Error as exc:
            return exc
    raise AssertionError("a missing view was found")


def test_a_lost_connection_is_one_line_and_exit_1():
    result = CliRunner().invoke(_app_raising(_closed_port_error()), ["fail"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: lost the connection to PostgreSQL: ")
    assert "Traceback" not in result.output


def test_a_failed_query_is_one_line_and_exit_1(stack_settings):
    result = CliRunner().invoke(_app_raising(_bad_sql_error(stack_settings)), ["fail"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database error: ")
    assert "no_such_view" in result.stderr and "Traceback" not in result.output


def test_sqlalchemy_wrapped_driver_errors_are_unwrapped(stack_settings):
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("SELECT 1", {}, _closed_port_error())
    mapped = from_driver_error(wrapped)
    assert mapped is not None and mapped.message.startswith("lost the connection to PostgreSQL")


def test_a_bug_is_not_dressed_up_as_an_expected_failure():
    assert from_driver_error(KeyError("x")) is None
    result = CliRunner().invoke(_app_raising(KeyError("x")), ["fail"])
    assert isinstance(result.exception, KeyError)


def test_with_json_a_failure_is_a_json_document_on_stdout():
    result = CliRunner().invoke(_app_raising(_closed_port_error()), ["fail", "--json"])
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 1 and doc["error"].startswith("lost the connection")


def test_without_json_stdout_stays_empty_on_failure():
    result = CliRunner().invoke(_app_raising(_closed_port_error()), ["fail"])
    assert result.stdout == ""


@pytest.mark.parametrize("as_json", [False, True])
def test_a_huge_echoed_argument_is_cut_to_a_readable_line(cli, as_json):
    huge = "x" * 100_000
    args = ["--env-file", huge, "config", "show", *(["--json"] if as_json else [])]
    result = cli(*args)
    assert result.exit_code == 2
    assert all(len(line) < 400 for line in result.stderr.splitlines())
    assert "characters cut" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["status", "-o", "json"], ["status", "--json"], ["ps", "--json"]])
def test_every_way_of_asking_for_json_gets_a_json_failure(cli, tmp_path, args):
    missing = tmp_path / "missing.env"
    result = cli("--env-file", str(missing), *args)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == f"env file {missing} does not exist"


def test_status_as_a_table_fails_without_json(cli, tmp_path):
    result = cli("--env-file", str(tmp_path / "missing.env"), "status", "-o", "table")
    assert result.exit_code == 2 and result.stdout == ""


def test_quiet_keeps_errors_and_results_and_drops_the_rest(cli, tmp_path):
    stopped = {"MACROINFRA_RUNTIME": "local", "MACROINFRA_STATE_DIR": str(tmp_path)}
    loud = cli("status", env={**stopped, "POSTGRESS_PORT": "1"})
    assert "did you mean POSTGRES_PORT" in loud.stderr and "not running" in loud.stderr
    quiet = cli("--quiet", "status", env={**stopped, "POSTGRESS_PORT": "1"})
    assert quiet.exit_code == loud.exit_code == 1
    assert quiet.stderr == "" and quiet.stdout == loud.stdout
    failed = cli("-q", "--env-file", str(tmp_path / "none.env"), "status")
    assert failed.exit_code == 2 and failed.stderr.startswith("error: env file ")
    # The next invocation in the same process is not quiet.
    assert "not running" in cli("status", env=stopped).stderr


@pytest.mark.parametrize("value", ["", "docker", "LOCAL"])
def test_an_empty_or_unknown_runtime_is_refused_not_defaulted(cli, value):
    for command in (["ps"], ["doctor"], ["up"]):
        result = cli(*command, "--runtime", value)
        assert result.exit_code == 2, (command, result.output)
        assert "is not one of 'auto', 'compose', 'local', 'external'" in result.stderr


@pytest.mark.parametrize("host", ["...", "x" * 100_000, "a..b", "db host"])
def test_a_host_no_resolver_can_take_is_a_configuration_error(cli, host):
    result = cli("doctor", "timescaledb", "--runtime", "external", env={"POSTGRES_HOST": host})
    assert result.exit_code == 2, result.output
    lines = error_lines(result.stderr)
    assert lines[0] == "error: invalid configuration"
    assert lines[1].startswith("  POSTGRES_HOST: ") and len(lines[1]) < 400
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["migrate", "upgrade"], "macroinfra migrate"),
        (["start"], "macroinfra up"),
        (["stop"], "macroinfra down"),
        (["migrate", "downgrade"], "macroinfra migrate down"),
    ],
)
def test_a_word_people_reach_for_gets_the_command_it_means(cli, args, meant):
    result = cli(*args)
    assert result.exit_code == 2
    assert f"Did you mean `{meant}`?" in result.stderr


def test_a_near_spelling_still_gets_clicks_own_suggestion(cli):
    result = cli("stauts")
    assert result.exit_code == 2 and "Did you mean 'status'" in result.stderr
