"""A team's own migrations and models on top of the shipped ones, on real PostgreSQL +
TimescaleDB: each command runs as a `macroinfra` process in the team's folder (the team's
models extend macroinfra's metadata for the life of a process, as they do for a user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import settings_env, sql_rows

from macroinfra.migrations import head_revision

FX_MODEL = """
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from macroinfra.models import Base, hypertable
from macroinfra.models.base import hypertable_id, natural_key


class FxRate(Base):
    __tablename__ = "fx_rates"
    __table_args__ = (
        natural_key("fx_rates", "pair", "rate_date"),
        hypertable(
            time_column="rate_date",
            chunk_interval="{chunk}",
            segment_by=["pair"],
            order_by=["rate_date DESC"],
            compress_after="30 days",
        ),
    )

    id: Mapped[int] = hypertable_id()
    rate_date: Mapped[date] = mapped_column(Date, primary_key=True)
    pair: Mapped[str] = mapped_column(String(7))
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8))
"""


class Team:
    """A team's folder: its migrations folder and its models package, and the CLI run in it."""

    def __init__(self, root: Path, settings) -> None:
        self.root = root
        self.package = f"team_{uuid.uuid4().hex[:8]}"
        (root / self.package).mkdir()
        (root / self.package / "__init__.py").write_text("")
        self.migrations = root / "team_migrations"
        self.migrations.mkdir()
        self.settings = settings.model_copy(
            update={"migrations_dir": self.migrations, "models": f"{self.package}.models"}
        )
        self.models("1 month")

    def models(self, chunk: str) -> None:
        (self.root / self.package / "models.py").write_text(FX_MODEL.replace("{chunk}", chunk))

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", "from macroinfra.cli import main; main()", *args],
            env={**os.environ, **settings_env(self.settings), "NO_COLOR": "1", **(env or {})},
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def json(self, *args: str) -> dict:
        result = self.run(*args, "--json")
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    def revisions(self) -> list[Path]:
        return sorted(self.migrations.glob("*.py"))


@pytest.fixture
def team(database, tmp_path) -> Team:
    return Team(tmp_path, database)


def _license(settings) -> str:
    return sql_rows(settings, "SHOW timescaledb.license")[0][0]


def _hypertables(settings) -> dict[str, object]:
    rows = sql_rows(
        settings,
        "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_schema = 'public'",
    )
    return dict(rows)


def test_a_declared_hypertable_from_autogenerate_to_downgrade(team):
    shipped = head_revision()
    assert team.run("migrate").returncode == 0

    made = team.json("migrate", "revision", "-m", "add fx_rates", "--autogenerate")
    assert made["written"] is True and made["down_revision"] == shipped
    assert made["branch_label"] == "team" and Path(made["path"]).parent == team.migrations
    assert made["operations"] == [
        "add table: fx_rates",
        "create hypertable: fx_rates (time column rate_date, chunk interval 1 month)",
        "enable compression: fx_rates (segment by pair, order by rate_date DESC)",
        "add compression policy: fx_rates (compress after 30 days)",
    ]
    source = Path(made["path"]).read_text()
    upgrade, downgrade = source.split("def downgrade")
    assert "op.create_hypertable('fx_rates', time_column='rate_date'" in upgrade
    assert "op.add_compression_policy('fx_rates', compress_after='30 days')" in upgrade
    # The downgrade reverses them, newest first, and drops the table last.
    steps = [line.strip().split("(")[0] for line in downgrade.splitlines()[1:] if "op." in line]
    assert steps == [
        "op.remove_compression_policy",
        "op.disable_compression",
        "op.drop_table",
    ]

    offline = team.run("migrate", "sql", env={"POSTGRES_PORT": "1"})  # no server needed
    assert offline.returncode == 0, offline.stderr
    sql = offline.stdout
    assert sql.index("CREATE TABLE fx_rates") < sql.index("create_hypertable('fx_rates'")
    guard = "IF current_setting('timescaledb.license', true) = 'timescale' THEN"
    assert sql.count(guard) == 3  # the shipped seven, then fx_rates' settings and policy

    applied = team.run("migrate")
    assert applied.returncode == 0, applied.stderr
    revision = made["revision"]
    assert f"applied {revision} (team): add fx_rates" in applied.stdout.splitlines()
    assert _hypertables(team.settings)["fx_rates"].days == 30
    community = _license(team.settings) == "timescale"
    if not community:  # reported and skipped, as the shipped migration does
        assert "compression not applied" in applied.stderr

    status = team.json("migrate", "status")
    assert status["current"] == revision == status["head"] and status["pending"] == []
    history = team.json("migrate", "history")["revisions"]
    assert [(r["revision"], r["origin"]) for r in history] == [
        (revision, "team"),
        (shipped, "shipped"),
    ]

    doctor = team.run("doctor", "--strict", "timescaledb", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    schema = {n: c for n, c in checks.items() if n.startswith("schema")}
    assert schema["schema: migrations"]["status"] == "ok"
    assert "all 11 declared tables present" in schema["schema: tables"]["detail"]
    assert "8 hypertables" in schema["schema: hypertables"]["detail"]
    failing = {n: c for n, c in schema.items() if c["status"] != "ok"}
    if community:
        assert failing == {} and doctor.returncode == 0
    else:
        assert set(failing) == {"schema: compression", "schema: compression policies"}
        assert all(c["reason"] == "edition" for c in failing.values())
        assert any("fx_rates" in p for p in failing["schema: compression"]["problems"])

    shown = team.json("schema", "show", "fx_rates")
    (table,) = shown["tables"]
    assert table["declared"]["kind"] == "hypertable" and table["kind"] == "hypertable"
    assert table["declared"]["chunk_interval_sql"] == "1 month"

    check = team.run("migrate", "check", "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout) == {"schema_version": 1, "drift": False, "differences": []}

    again = team.json("migrate", "revision", "-m", "nothing new", "--autogenerate")
    assert again["written"] is False and again["operations"] == []
    assert len(team.revisions()) == 1

    down = team.json("migrate", "down", "--yes")
    assert down["applied"] == [revision] and down["after"] == shipped
    assert [t["table"] for t in down["dropped"]] == ["fx_rates"]
    assert sql_rows(team.settings, "SELECT to_regclass('fx_rates')") == [(None,)]
    assert len(_hypertables(team.settings)) == 7  # the shipped seven, untouched
    shipped_check = team.run("migrate", "check", "--json", env={"MACROINFRA_MODELS": ""})
    assert json.loads(shipped_check.stdout)["drift"] is False


def test_a_changed_chunk_interval_yields_the_operation_that_changes_it(team):
    assert team.run("migrate").returncode == 0
    first = team.json("migrate", "revision", "-m", "add fx_rates", "--autogenerate")
    assert team.run("migrate").returncode == 0

    team.models("1 week")
    doctor = team.run("doctor", "--strict", "timescaledb", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    hypertables = checks["schema: hypertables"]
    assert doctor.returncode == 1 and hypertables["status"] != "ok"
    assert hypertables["problems"] == ["fx_rates: chunk interval 30 days, declared 1 week (7 days)"]
    assert "set_chunk_time_interval('fx_rates', INTERVAL '1 week')" in hypertables["hint"]
    shown = team.json("schema", "show", "fx_rates")
    assert [d["aspect"] for d in shown["tables"][0]["differences"]][0] == "chunk_interval"

    drift = team.run("migrate", "check")
    assert drift.returncode == 1
    assert "set chunk interval: fx_rates (chunk interval 1 week, old 30 days)" in drift.stdout
    second = team.json("migrate", "revision", "-m", "weekly chunks", "--autogenerate")
    assert second["down_revision"] == first["revision"] and second["branch_label"] is None
    assert second["operations"] == [
        "set chunk interval: fx_rates (chunk interval 1 week, old 30 days)"
    ]
    assert team.run("migrate").returncode == 0
    assert _hypertables(team.settings)["fx_rates"].days == 7
    assert team.run("migrate", "check").returncode == 0

    down = team.run("migrate", "down", "--yes")
    assert down.returncode == 0, down.stderr
    assert _hypertables(team.settings)["fx_rates"].days == 30


def test_the_readme_example_is_a_working_team_module(team):
    import re

    readme = Path(__file__).resolve().parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "hypertable(" in b]
    (team.root / team.package / "models.py").write_text(example)
    assert team.run("migrate").returncode == 0
    made = team.json("migrate", "revision", "-m", "add fx_rates", "--autogenerate")
    assert made["operations"][0] == "add table: fx_rates"
    assert made["operations"][1].startswith("create hypertable: fx_rates")
    applied = team.run("migrate")
    assert f"applied {made['revision']} (team): add fx_rates" in applied.stdout
    assert team.run("migrate", "check").returncode == 0
