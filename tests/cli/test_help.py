"""`--help` a newcomer can act on: every command, found by walking the real Click tree, shows
examples to copy, names its values (no Python type names), and the command lists are whole."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from macroinfra.cli.app import app


def _walk(command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = {" ".join(path) or "(root)": path for path, _ in _walk(ROOT)}
TYPE_NAME = re.compile(r"<[^>\s]+(?: range)?>")  # <str>, <list[str]>, <float range>
BRACED = re.compile(r"\{\w+\}")  # {series}: Typer's way of writing a required argument


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_walk_finds_the_whole_tree():
    names = set(COMMANDS)
    assert {"doctor", "up", "schema show", "seed demo", "db dump", "config show"} <= names
    assert {"data asof", "migrate status"} <= names  # checked once every group is merged


@pytest.mark.parametrize("path", COMMANDS.values(), ids=COMMANDS.keys())
def test_help_shows_examples_and_no_type_names(path):
    text = _help(path)
    assert "\n  Examples:\n" in text, text
    examples = text.split("\n  Examples:\n", 1)[1].strip().splitlines()
    assert 1 <= len(examples) <= 4
    for line in examples:
        assert line.strip().startswith("macroinfra "), line
        # An example names this command (the root's examples name any).
        assert " ".join(path) in line, line
    assert not TYPE_NAME.search(text), TYPE_NAME.search(text)
    assert not BRACED.search(text), BRACED.search(text)


def test_values_are_named_for_what_to_type():
    doctor = _help(("doctor",))
    assert "Usage: macroinfra doctor [OPTIONS] [SERVICE]..." in doctor
    assert "--timeout SECONDS" in doctor and "--runtime [auto|compose|local|external]" in doctor
    assert "One of: timescaledb, redis, mongodb, kafka, minio." in " ".join(doctor.split())
    assert "--env-file FILE" in _help(())
    assert "Usage: macroinfra schema show [OPTIONS] [TABLE]" in _help(("schema", "show"))
    assert "Usage: macroinfra db dump [OPTIONS] FILE" in _help(("db", "dump"))


def test_required_arguments_of_other_groups_are_named_too():
    """The names are set once for the whole tree, so groups this module never names get
    them as well (data's series argument)."""
    text = _help(("data", "asof"))
    assert "Usage: macroinfra data asof [OPTIONS] SERIES" in text
    assert "<str>" not in text and "{series}" not in text


def test_the_command_list_shows_each_summary_whole():
    text = _help(())
    commands = text.split("\nCommands:\n", 1)[1].split("\n\n")[0]
    assert "..." not in commands
    joined = " ".join(commands.split())
    assert "exit 1 if a check fails." in joined
    assert "data is kept unless --volumes is given." in joined
