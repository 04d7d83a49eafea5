"""Completion offers values: through Click's shell_complete API and the real
_MACROINFRA_COMPLETE protocol a shell uses, with series codes read from the real database."""

from __future__ import annotations

import time

import pytest
import typer
from helpers import Cli, free_port, settings_env, sql_rows
from responders import SilentServer
from typer._completion_classes import BashComplete

from macroinfra.cli.app import app
from macroinfra.services import Profile, RuntimeName, ServiceName
from macroinfra.timescale.spec import ALL_TABLES

SERVICES = [s.value for s in ServiceName]


def offered(words: str, env: dict[str, str] | None = None, cli: Cli | None = None) -> list[str]:
    """What bash gets for `words` (the last word is the one being completed)."""
    parts = words.split(" ")
    result = (cli or Cli(None))(
        env={
            "_MACROINFRA_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
            **(env or {}),
        }
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def click_completions(args: list[str], incomplete: str) -> list[str]:
    """The same through Click's own API."""
    complete = BashComplete(typer.main.get_command(app), {}, "macroinfra", "_MACROINFRA_COMPLETE")
    return [item.value for item in complete.get_completions(args, incomplete)]


@pytest.mark.parametrize("command", ["up", "restart", "doctor", "logs"])
def test_services_are_offered_where_a_service_is_named(command):
    assert offered(f"macroinfra {command} ") == SERVICES
    assert offered(f"macroinfra {command} re") == ["redis"]
    assert click_completions([command], "ti") == ["timescaledb"]


@pytest.mark.parametrize("command", ["up", "down", "ps", "status", "doctor", "restart", "logs"])
def test_runtimes_are_offered(command):
    assert click_completions([command, "--runtime"], "") == [r.value for r in RuntimeName]
    assert offered(f"macroinfra {command} --runtime e") == ["external"]


def test_profiles_are_offered():
    assert offered("macroinfra up --profile ") == [p.value for p in Profile]
    assert click_completions(["doctor", "--profile"], "f") == ["full"]


def test_schema_show_offers_the_declared_tables():
    assert offered("macroinfra schema show ") == list(ALL_TABLES)
    assert offered("macroinfra schema show ma") == ["market_data", "macro_series"]
    assert click_completions(["schema", "show"], "vol") == ["vol_surfaces"]


@pytest.fixture
def seeded(migrated):
    from macroinfra.data.demo import seed_demo
    from macroinfra.db import Database

    db = Database(migrated)
    try:
        seed_demo(db, years=1, instruments=2)
    finally:
        db.dispose()
    return migrated


@pytest.mark.parametrize("command", ["asof", "first-release", "latest"])
def test_data_commands_offer_the_series_codes_in_the_database(seeded, command):
    codes = [c for (c,) in sql_rows(seeded, "SELECT series_code FROM series_metadata ORDER BY 1")]
    assert codes
    assert offered(f"macroinfra data {command} ", cli=Cli(seeded)) == sorted(set(codes))
    prefix = codes[-1][:2]
    want = sorted({c for c in codes if c.startswith(prefix)})
    assert offered(f"macroinfra data {command} {prefix}", cli=Cli(seeded)) == want


def test_a_hostile_prefix_is_data_not_sql(seeded, monkeypatch):
    from macroinfra.cli.options import complete_series, series_codes

    for prefix in ["'", "%", "_", "x'; DROP TABLE series_metadata; --", "\\"]:
        assert series_codes(seeded, prefix) == []
    assert offered("macroinfra data asof %", cli=Cli(seeded)) == []
    for name, value in settings_env(seeded).items():
        monkeypatch.setenv(name, value)
    root = typer.Context(typer.main.get_command(app))
    assert complete_series(root, None, "\x00") == []  # the driver refuses it: nothing offered
    assert complete_series(root, None, "") != []
    assert sql_rows(seeded, "SELECT count(*) FROM series_metadata")[0][0] > 0


def test_a_closed_database_offers_nothing_and_prints_nothing(seeded):
    assert offered("macroinfra data asof U", env={"POSTGRES_PORT": str(free_port())}) == []


def test_a_database_that_never_answers_offers_nothing_within_the_completion_timeout():
    from macroinfra.cli.options import COMPLETION_TIMEOUT_S

    with SilentServer() as silent:
        began = time.monotonic()
        assert offered("macroinfra data asof U", env={"POSTGRES_PORT": str(silent.port)}) == []
        assert time.monotonic() - began < COMPLETION_TIMEOUT_S + 2


def test_an_unmigrated_database_offers_nothing(database):
    assert offered("macroinfra data asof ", cli=Cli(database)) == []
