"""`macroinfra data ...` and `macroinfra seed demo` through the real Typer app."""

from __future__ import annotations

import json

import pytest
from helpers import Cli, free_port


@pytest.fixture
def seeded_cli(migrated) -> Cli:
    cli = Cli(migrated)
    result = cli("seed", "demo", "--years", "2", "--instruments", "2", "--end", "2025-06-30")
    assert result.exit_code == 0, result.output
    return cli


def test_seed_demo_reports_each_table_and_is_idempotent(migrated):
    cli = Cli(migrated)
    args = ("seed", "demo", "--years", "1", "--instruments", "2", "--end", "2025-06-30")
    first = cli(*args, "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["inserted"] == report["offered"] > 0
    assert {r["table"] for r in report["loads"]} >= {"market_data", "macro_series", "signals"}
    assert report["start"] == "2024-06-28" and report["end"] == "2025-06-30"

    second = cli(*args)
    assert second.exit_code == 0, second.output
    assert f"inserted 0 of {report['offered']:,} rows" in second.stdout
    assert "market_data" in second.stdout and "skipped" in second.stdout
    assert "loading market_data" in second.stderr  # progress goes to stderr


def test_asof_prints_the_view(seeded_cli):
    result = seeded_cli("data", "asof", "US_UNRATE", "--at", "2024-06-07T12:30:00Z")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "US_UNRATE (demo): US unemployment rate, percent; as of 2024-06-07T12:30:00+00:00: "
    )
    assert lines[1].split() == ["observation", "value", "revision", "released", "(UTC)"]
    assert lines[-1].split()[0] == "2024-05-01"  # released at the boundary itself
    assert lines[-1].split()[-2:] == ["2024-06-07", "12:30:00"]


def test_asof_json_is_one_document(seeded_cli):
    at = "2024-06-07T08:29:59.999999-04:00"  # one microsecond before the May release
    result = seeded_cli("data", "asof", "US_UNRATE", "--at", at, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["view"] == "as_of"
    assert view["at"] == "2024-06-07T08:29:59.999999-04:00"
    assert view["series"]["code"] == "US_UNRATE"
    assert view["observations"][-1]["observation_date"] == "2024-04-01"
    assert all(
        o["release_time"] <= "2024-06-07T12:29:59.999999+00:00" for o in view["observations"]
    )


def test_first_release_and_latest(seeded_cli):
    first = json.loads(seeded_cli("data", "first-release", "US_NFP", "--json").stdout)
    latest = json.loads(seeded_cli("data", "latest", "US_NFP", "--json").stdout)
    assert [o["observation_date"] for o in first["observations"]] == [
        o["observation_date"] for o in latest["observations"]
    ]
    assert {o["revision_number"] for o in first["observations"]} == {0}
    assert max(o["revision_number"] for o in latest["observations"]) >= 2
    human = seeded_cli("data", "latest", "US_NFP")
    assert human.exit_code == 0 and "latest revisions" in human.stdout


def test_a_nan_stored_by_another_writer_never_makes_invalid_json(seeded_cli, migrated):
    import psycopg

    # The loader refuses NaN; another tool may still have stored it (numeric(24, 8) holds
    # NaN, though not an infinity).
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE macro_series SET value = 'NaN'"
            " WHERE series_id = (SELECT id FROM series_metadata WHERE series_code = 'US_NFP')"
            " AND observation_date IN ('2024-01-01', '2024-02-01')"
        )

    def strict(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    for args in (("latest",), ("first-release",), ("asof", "--at", "2025-06-30T00:00:00Z")):
        result = seeded_cli("data", args[0], "US_NFP", *args[1:], "--json")
        assert result.exit_code == 0, result.output
        view = json.loads(result.stdout, parse_constant=strict)
        values = {o["observation_date"]: o["value"] for o in view["observations"]}
        assert values["2024-01-01"] is None and values["2024-02-01"] is None
        assert isinstance(values["2024-03-01"], float)
    human = seeded_cli("data", "latest", "US_NFP")
    assert human.exit_code == 0 and "NaN" not in human.stdout and "Infinity" not in human.stdout


def test_asof_before_any_release_says_so(seeded_cli):
    result = seeded_cli("data", "asof", "US_CPI", "--at", "2001-01-01T00:00:00Z")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "US_CPI: no observation was released at or before 2001-01-01T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2024-06-07T12:30:00", "error: --at '2024-06-07T12:30:00' has no time zone"),
        ("2024-06-07", "error: --at '2024-06-07' has no time zone"),
        ("last tuesday", "error: --at 'last tuesday' is not an ISO 8601 date and time"),
    ],
)
def test_a_bad_instant_is_a_usage_error(cli, at, message):
    result = cli("data", "asof", "US_CPI", "--at", at)  # refused before connecting
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(message)
    assert "Traceback" not in result.output


def test_an_unknown_series_fails_with_one_clear_line(seeded_cli):
    result = seeded_cli("data", "asof", "US_CPJ", "--at", "2024-06-07T12:30:00Z")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: no series with code 'US_CPJ'"
    assert result.stderr.splitlines()[1].startswith("hint: known series codes: ")
    assert result.stdout == ""


def test_an_unreachable_database_is_one_line(cli):
    result = cli(
        "data",
        "asof",
        "US_CPI",
        "--at",
        "2024-06-07T12:30:00Z",
        env={"POSTGRES_PORT": str(free_port())},
    )
    assert result.exit_code == 1
    assert "connection refused" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output


def test_seed_demo_validates_its_options(cli):
    result = cli("seed", "demo", "--years", "31")
    assert result.exit_code == 2
    result = cli("seed", "demo", "--end", "30/06/2025")
    assert result.exit_code == 2


@pytest.mark.parametrize("end", ["0001-01-01", "1999-12-31", "9999-12-31"])
def test_an_end_the_demo_cannot_generate_is_refused_before_connecting(cli, end):
    # No server behind `cli`: exit 2 and the rule, not a connection error, nor a traceback.
    result = cli("seed", "demo", "--end", end)
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith(
        f"error: --end {end} is out of range: the demo data starts on 1990-01-01 and ends at "
        "most a year after today, so with --years 10 --end must be between 2000-01-01 and "
    )
    assert "Traceback" not in result.output


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "data" in result.stdout and "seed" in result.stdout
    assert "asof" in cli("data", "--help").stdout
