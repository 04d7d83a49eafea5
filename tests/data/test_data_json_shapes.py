"""The --json documents of the data commands validate against their schemas in docs/json/
(data-load.schema.json, data-series.schema.json, data-asof.schema.json,
data-first-release.schema.json, data-latest.schema.json), which allow no other key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Cli, scratch_database

SCHEMAS = Path(__file__).parents[2] / "docs" / "json"


@pytest.fixture(scope="module")
def documents(stack_settings) -> dict[str, dict]:
    """One --json document of each data command, from a seeded database of its own."""
    from macroinfra import migrations
    from macroinfra.db import Database

    with scratch_database(stack_settings) as settings:
        db = Database(settings)
        try:
            migrations.upgrade(db)
        finally:
            db.dispose()
        cli = Cli(settings)
        seed = ("seed", "demo", "--years", "1", "--instruments", "2", "--end", "2025-06-30")
        assert cli(*seed).exit_code == 0
        runs = {
            "data-load": ("data", "load", "signals", "-"),
            "data-series": ("data", "series"),
            "data-asof": ("data", "asof", "US_CPI", "--at", "2025-01-01T00:00:00Z"),
            "data-first-release": ("data", "first-release", "US_CPI", "--start", "2025-01-01"),
            "data-latest": ("data", "latest", "US_CPI", "--end", "2025-01-01"),
        }
        out = {}
        for command, args in runs.items():
            text = "signal_date,signal_type,value\n2025-01-02,risk_appetite,0.5\n"
            result = cli(*args, "--json", input=text if command == "data-load" else None)
            assert result.exit_code == 0, (command, result.output)
            out[command] = json.loads(result.stdout)
        return out


@pytest.mark.parametrize(
    "command", ["data-load", "data-series", "data-asof", "data-first-release", "data-latest"]
)
def test_each_document_validates_against_its_schema(documents, command):
    jsonschema = pytest.importorskip("jsonschema")
    document = documents[command]
    assert next(iter(document)) == "schema_version"
    schema = json.loads((SCHEMAS / f"{command}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
    assert set(schema["required"]) == set(schema["properties"])
    for definition in schema.get("$defs", {}).values():
        assert definition["additionalProperties"] is False
        assert set(definition["required"]) == set(definition["properties"])
