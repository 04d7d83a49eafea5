"""JSON a script can trust: every --json document, produced for real against the test stack,
validates against its documented schema in docs/json/, and every schema there is exercised."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from helpers import Cli, own_local_stack, scratch_database

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "json"
TESTS = ROOT / "tests"


def validate(name: str, stdout: str) -> dict:
    """The one JSON document on stdout, checked against docs/json/<name>.schema.json."""
    doc = json.loads(stdout)
    schema = json.loads((DOCS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    assert doc["schema_version"] == 1
    return doc


@pytest.fixture(scope="module")
def seeded(stack_settings):
    """A migrated database of its own with a year of demo data."""
    from macroinfra import migrations
    from macroinfra.data.demo import seed_demo
    from macroinfra.db import Database

    with scratch_database(stack_settings, "test_shapes") as settings:
        db = Database(settings)
        try:
            migrations.upgrade(db)
            seed_demo(db, years=1, instruments=2)
        finally:
            db.dispose()
        yield settings


@pytest.mark.parametrize(
    ("schema", "args", "code"),
    [
        ("config-show", ["config", "show"], 0),
        ("doctor", ["doctor", "timescaledb", "redis"], 0),
        ("doctor", ["doctor", "--strict", "timescaledb"], 1),  # Apache: no compression
        ("schema-show", ["schema", "show"], 0),
        ("schema-show", ["schema", "show", "market_data"], 0),
        ("status", ["status"], 0),
        ("status", ["status", "-o", "json"], 0),
        ("ps", ["ps"], 0),
        ("up", ["up", "timescaledb", "redis"], 0),  # already running: nothing started
    ],
)
def test_a_report_validates_against_its_schema(seeded, schema, args, code):
    result = Cli(seeded)(*args, "--json") if "-o" not in args else Cli(seeded)(*args)
    assert result.exit_code == code, result.output
    doc = validate(schema, result.stdout)
    if schema == "schema-show":
        hyper = next(t for t in doc["tables"] if t["name"] == "market_data")["actual"]
        assert hyper["hypertable"]["chunk_interval_seconds"] == 30 * 86400
        assert hyper["total_bytes"] > 0


def test_seed_dump_and_restore_validate(seeded, tmp_path):
    cli = Cli(seeded)
    seed = cli("seed", "demo", "--years", "1", "--instruments", "2", "--json")
    assert seed.exit_code == 0, seed.output
    assert validate("seed-demo", seed.stdout)["inserted"] == 0  # seeded already
    dump = cli("db", "dump", str(tmp_path / "x.dump"), "--json")
    assert dump.exit_code == 0, dump.output
    assert validate("db-dump", dump.stdout)["size_bytes"] > 0
    restore = cli("db", "restore", str(tmp_path / "x.dump"), "--yes", "--json")
    assert restore.exit_code == 0, restore.output
    assert validate("db-restore", restore.stdout)["rows"] > 0


@pytest.fixture
def redis_only():
    with own_local_stack(redis_password="shape pw") as settings:
        yield settings


def test_the_lifecycle_documents_validate(redis_only):
    cli = Cli(redis_only)
    up = cli("up", "redis", "--json")
    assert up.exit_code == 0, up.output
    assert validate("up", up.stdout)["started"] == ["redis"]
    restart = cli("restart", "redis", "--json")
    assert restart.exit_code == 0, restart.output
    assert validate("restart", restart.stdout)["restarted"] == ["redis"]
    down = cli("down", "--volumes", "--yes", "--json")
    assert down.exit_code == 0, down.output
    assert validate("down", down.stdout)["stopped"] == ["redis"]


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["doctor", "--json", "--timeout", "0"], 2, "Invalid value for '--timeout'"),
        (["doctor", "--json", "--no-such-option"], 2, "No such option: --no-such-option"),
        (["--no-such-option", "ps", "--json"], 2, "No such option: --no-such-option"),
        (["status", "-o", "json", "--runtime", "docker"], 2, "Invalid value for '--runtime'"),
        (["schema", "show", "no_such_table", "--json"], 1, "no_such_table"),
    ],
)
def test_a_failure_with_json_is_the_error_document(stack_settings, args, code, error):
    result = Cli(stack_settings)(*args)
    assert result.exit_code == code, result.output
    doc = validate("error", result.stdout)
    assert doc["exit_code"] == code and error in doc["error"]
    assert "Traceback" not in result.output


def test_a_usage_error_without_json_keeps_stdout_empty(cli):
    result = cli("doctor", "--timeout", "0")
    assert result.exit_code == 2 and result.stdout == ""
    assert "Invalid value for '--timeout'" in result.stderr


def test_every_schema_file_is_used_by_a_test():
    """A schema nobody validates against documents nothing: each file in docs/json/ is named
    by a test case (this file's, or the tests of the commands other modules own)."""
    sources = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    name = r"([a-z]+(?:-[a-z]+)*)"
    used = set(re.findall(rf'(?:validate|run)\("{name}"', sources))  # validate("doctor", ...)
    used |= set(re.findall(rf'\("{name}", \[', sources))  # a case: ("doctor", [args], 0)
    used |= set(re.findall(rf"{name}\.schema\.json", sources))
    files = {p.name.removesuffix(".schema.json") for p in DOCS.glob("*.schema.json")}
    assert files, "no schemas found"
    assert files <= used, f"schemas no test validates: {sorted(files - used)}"


def test_the_schema_files_are_those_the_result_types_give():
    """docs/json/ is written from the result types: a field added or renamed there and not
    in the documented shape fails here (run `python scripts/json_schemas.py`)."""
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "json_schemas.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
