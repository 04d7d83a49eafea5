"""Every `migrate ... --json` document is one JSON object that validates against its schema in
docs/json/ (migrate-<subcommand>.schema.json), with the shipped and a team's revisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Cli

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[1] / "docs" / "json"


def validate(name: str, stdout: str) -> dict:
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and next(iter(doc)) == "schema_version"
    schema = json.loads((DOCS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    return {key: value for key, value in doc.items() if key != "schema_version"}


def test_every_migrate_document_validates(database, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    cli = Cli(database)
    env = {"MACROINFRA_MIGRATIONS_DIR": str(folder)}

    def run(name: str, *args: str, code: int = 0) -> dict:
        result = cli(*args, "--json", env=env)
        assert result.exit_code == code, result.output
        return validate(name, result.stdout)

    made = run("migrate-revision", "migrate", "revision", "-m", "team table")
    assert made["written"] and made["path"].startswith(str(folder))
    assert run("migrate-status", "migrate", "status")["pending"][1]["origin"] == "team"
    assert [r["origin"] for r in run("migrate-history", "migrate", "history")["revisions"]] == [
        "team",
        "shipped",
    ]
    up = run("migrate", "migrate")
    assert [r["origin"] for r in up["revisions"]] == ["shipped", "team"]
    assert up["applied"] == [r["revision"] for r in up["revisions"]]
    assert run("migrate-check", "migrate", "check") == {"differences": [], "drift": False}
    nothing = run("migrate-revision", "migrate", "revision", "-m", "again", "--autogenerate")
    assert nothing["written"] is False and nothing["path"] is None
    down = run("migrate-down", "migrate", "down", "--to", "base", "--yes")
    assert down["after"] is None and len(down["dropped"]) == 10


@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.glob("migrate*.schema.json")))
def test_each_schema_is_exact(name):
    schema = json.loads((DOCS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
