"""Hostile and unusual inputs to the team's migrations and models: one line, the documented
exit code, no traceback, nothing written where it should not be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Cli, error_lines, sql_rows
from test_team_migrations import Team

from macroinfra.migrations import head_revision


def _one_error(result) -> str:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.output, result.output
    errors = [line for line in error_lines(result.stderr) if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "mine"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "args", [["migrate"], ["migrate", "status"], ["migrate", "history"], ["migrate", "sql"]]
)
def test_a_migrations_folder_that_does_not_exist_is_one_line(tmp_path, args):
    missing = tmp_path / "nowhere"
    result = Cli(None)(*args, env={"MACROINFRA_MIGRATIONS_DIR": str(missing)})
    assert result.exit_code == 2, result.output
    assert _one_error(result) == f"error: MACROINFRA_MIGRATIONS_DIR {missing} does not exist"
    assert not missing.exists()


def test_a_migrations_folder_that_is_a_file_is_one_line(tmp_path):
    file = tmp_path / "file.py"
    file.write_text("")
    result = Cli(None)(
        "migrate", "revision", "-m", "x", env={"MACROINFRA_MIGRATIONS_DIR": str(file)}
    )
    assert result.exit_code == 2
    assert _one_error(result) == f"error: MACROINFRA_MIGRATIONS_DIR {file} is not a folder"


def test_the_shipped_folder_is_not_a_team_folder(cli):
    from macroinfra.resources import migrations_dir

    shipped = migrations_dir() / "versions"
    before = sorted(shipped.iterdir())
    env = {"MACROINFRA_MIGRATIONS_DIR": str(shipped)}
    result = cli("migrate", "revision", "-m", "x", env=env)
    assert result.exit_code == 2
    assert _one_error(result).endswith("is macroinfra's own migrations folder")
    assert sorted(shipped.iterdir()) == before


def test_revision_without_a_migrations_folder_says_what_to_set(cli):
    result = cli("migrate", "revision", "-m", "add fx_rates")
    assert result.exit_code == 2
    line = _one_error(result)
    assert line.startswith("error: MACROINFRA_MIGRATIONS_DIR is not set")
    assert "set MACROINFRA_MIGRATIONS_DIR" in result.stderr  # the hint


def test_a_plain_revision_needs_no_database_and_lands_in_the_folder(folder):
    message = "../../etc/passwd; rm -rf ~ $(whoami) `id` 'quoted' \"double\""
    cli = Cli(None)
    env = {"MACROINFRA_MIGRATIONS_DIR": str(folder), "POSTGRES_PORT": "1"}
    result = cli("migrate", "revision", "-m", message, "--json", env=env)
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    path = Path(made["path"])
    assert path.parent == folder and list(folder.glob("*.py")) == [path]
    assert made["message"] == message and made["down_revision"] == head_revision()
    assert made["branch_label"] == "team" and made["operations"] == []
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # it imports and runs
    assert namespace["revision"] == made["revision"]
    assert str(namespace["__doc__"]).splitlines()[0] == message

    history = json.loads(cli("migrate", "history", "--json", env=env).stdout)["revisions"]
    assert [(r["revision"], r["origin"]) for r in history] == [
        (made["revision"], "team"),
        (head_revision(), "shipped"),
    ]
    table = cli("migrate", "history", env=env).stdout.splitlines()
    team_row = next(line for line in table if made["revision"] in line)
    assert "(head)" in team_row and " team " in f" {team_row} "
    second = json.loads(cli("migrate", "revision", "-m", "next", "--json", env=env).stdout)
    assert second["down_revision"] == made["revision"] and second["branch_label"] is None


@pytest.mark.parametrize(
    "message", ["", "   ", "two\nlines", 'ends """ early', "back\\slash", "x" * 201]
)
def test_a_message_that_cannot_be_written_safely_is_refused(folder, message):
    result = Cli(None)(
        "migrate", "revision", "-m", message, env={"MACROINFRA_MIGRATIONS_DIR": str(folder)}
    )
    assert result.exit_code == 2, result.output
    _one_error(result)
    assert list(folder.iterdir()) == []


def _revision(folder: Path, revision: str, down: str, body: str = "pass") -> None:
    (folder / f"{revision}_x.py").write_text(
        f'"""{revision}"""\nfrom alembic import op\n\nrevision = {revision!r}\n'
        f"down_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n    {body}\n\n\ndef downgrade():\n    pass\n"
    )


def test_two_team_heads_migrate_together_and_block_a_new_revision(database, folder):
    env = {"MACROINFRA_MIGRATIONS_DIR": str(folder)}
    cli = Cli(database)
    first = json.loads(cli("migrate", "revision", "-m", "first", "--json", env=env).stdout)
    _revision(folder, "aaaa", first["revision"], "op.execute('CREATE TABLE team_a (x int)')")
    _revision(folder, "bbbb", first["revision"], "op.execute('CREATE TABLE team_b (x int)')")

    result = cli("migrate", "--json", env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["after"] == "aaaa,bbbb"
    assert doc["applied"][:2] == [head_revision(), first["revision"]]
    assert {r["origin"] for r in doc["revisions"][1:]} == {"team"}
    assert sorted(sql_rows(database, "SELECT version_num FROM alembic_version")) == [
        ("aaaa",),
        ("bbbb",),
    ]
    status = json.loads(cli("migrate", "status", "--json", env=env).stdout)
    assert status["at_head"] is True and status["head"] == "aaaa,bbbb"

    blocked = cli("migrate", "revision", "-m", "third", env=env)
    assert blocked.exit_code == 2
    assert _one_error(blocked).startswith("error: your migrations have 2 heads (aaaa, bbbb)")
    written = {p.name for p in folder.glob("*.py")}
    assert written == {"aaaa_x.py", "bbbb_x.py", Path(first["path"]).name}  # nothing new


def test_migrate_to_a_revision_stops_there_and_refuses_one_below(database, folder):
    env = {"MACROINFRA_MIGRATIONS_DIR": str(folder)}
    cli = Cli(database)
    _revision(folder, "cccc", head_revision(), "op.execute('CREATE TABLE team_c (x int)')")
    to_shipped = cli("migrate", "--to", "+1", env=env)
    assert to_shipped.exit_code == 0, to_shipped.output
    assert sql_rows(database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    lines = to_shipped.stdout.splitlines()
    assert lines[0].startswith(f"applied {head_revision()} (shipped): initial schema")

    full = cli("migrate", env=env)
    assert full.stdout.splitlines()[0] == "applied cccc (team): cccc"
    below = cli("migrate", "--to", head_revision(), env=env)
    assert below.exit_code == 2
    assert (
        _one_error(below)
        == f"error: revision '{head_revision()}' is below the current revision cccc"
    )
    for down in ("-1", "base"):
        refused = cli("migrate", "--to", down, env=env)
        assert refused.exit_code == 2
        assert _one_error(refused) == f"error: migrate --to {down} would go down"
    unknown = cli("migrate", "--to", "f00d", env=env)
    assert unknown.exit_code == 2 and _one_error(unknown) == "error: unknown revision 'f00d'"
    assert sql_rows(database, "SELECT version_num FROM alembic_version") == [("cccc",)]

    # Going down names each revision it reverts, newest first, as going up names each applied.
    down = cli("migrate", "down", "--to", "base", "--yes", env=env)
    assert down.exit_code == 0, down.output
    assert down.stdout.splitlines()[:2] == [
        "reverted cccc (team): cccc",
        f"reverted {head_revision()} (shipped): initial schema: TimescaleDB, 3 metadata "
        "tables, 7 hypertables, compression",
    ]


def test_a_database_at_a_team_revision_without_the_folder_says_to_set_it(database, folder):
    _revision(folder, "dddd", head_revision())
    assert Cli(database)("migrate", env={"MACROINFRA_MIGRATIONS_DIR": str(folder)}).exit_code == 0
    result = Cli(database)("migrate", "status")
    assert result.exit_code == 1
    assert "revision dddd, which this macroinfra does not know" in _one_error(result)
    assert "set MACROINFRA_MIGRATIONS_DIR" in result.stderr


def test_a_team_revision_that_fails_is_one_line_and_changes_nothing(database, folder):
    _revision(folder, "eeee", head_revision(), "raise RuntimeError('the team broke it')")
    cli = Cli(database)
    assert cli("migrate", "--to", head_revision(), env={}).exit_code == 0
    result = cli("migrate", env={"MACROINFRA_MIGRATIONS_DIR": str(folder)})
    assert result.exit_code == 1
    line = _one_error(result)
    assert "RuntimeError: the team broke it" in line and "eeee_x.py" in line
    assert sql_rows(database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_a_broken_revision_file_is_one_line(folder):
    (folder / "broken.py").write_text("revision = 'ffff'\ndown_revision = (\n")
    result = Cli(None)("migrate", "history", env={"MACROINFRA_MIGRATIONS_DIR": str(folder)})
    assert result.exit_code == 2
    assert _one_error(result).startswith("error: cannot read the migrations:")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "cannot import it (No module named"),
        ("raise ValueError('bad config in models')", "failed on import: ValueError: bad config"),
        ("import sys\nsys.exit(3)", "failed on import: SystemExit: 3"),
        ("def broken(:\n", "failed on import: SyntaxError"),
    ],
)
@pytest.mark.parametrize("args", [["migrate"], ["migrate", "check"], ["schema", "show"]])
def test_team_models_that_cannot_be_imported_are_one_line(
    database, tmp_path, source, expected, args
):
    team = Team(tmp_path, database)
    models = tmp_path / team.package / "models.py"
    if source is None:
        models.unlink()
    else:
        models.write_text(source)
    result = team.run(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"MACROINFRA_MODELS={team.package}.models" in errors[0]
    assert expected in errors[0]


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ('chunk_interval="1 fortnight"', "interval '1 fortnight' is not"),
        ('compress_after="1 month"', "interval '1 month' is not"),
        ('time_column="nope"', "hypertable fx_rates: no column 'nope'"),
        ('time_column="pair"', "time column pair must be DateTime(timezone=True) or Date"),
    ],
)
def test_a_bad_declaration_is_one_line(database, tmp_path, declaration, expected):
    team = Team(tmp_path, database)
    models = tmp_path / team.package / "models.py"
    key = declaration.split("=")[0]
    text = "\n".join(
        f"            {declaration}," if line.strip().startswith(f"{key}=") else line
        for line in models.read_text().splitlines()
    )
    models.write_text(text)
    result = team.run("migrate", "check")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and expected in result.stderr
