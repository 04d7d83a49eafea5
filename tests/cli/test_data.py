"""`macroinfra data ...` and `macroinfra seed demo` through the real Typer app."""

from __future__ import annotations

import json

import pytest
from helpers import Cli, error_lines, free_port, sql_rows


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
    hint = result.stderr.splitlines()[1]
    assert hint.startswith("hint: did you mean 'US_CPI'")  # the closest of the real codes first
    assert hint.endswith("? `macroinfra data series` lists the series codes")
    assert result.stdout == ""
    lower = seeded_cli("data", "latest", "us_nfp")
    assert lower.exit_code == 1 and "did you mean 'US_NFP'?" in lower.stderr
    nothing_near = seeded_cli("data", "latest", "ZZZZZZ")
    assert nothing_near.stderr.splitlines()[1] == (
        "hint: `macroinfra data series` lists the series codes"
    )


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


def test_series_lists_codes_with_their_span_and_revisions(seeded_cli, migrated):
    result = seeded_cli("data", "series", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["pattern"] is None
    by_code = {s["code"]: s for s in listing["series"]}
    expected = sql_rows(
        migrated,
        "SELECT min(observation_date)::text, max(observation_date)::text,"
        " count(DISTINCT observation_date), count(*) FILTER (WHERE revision_number > 0)"
        " FROM macro_series m JOIN series_metadata sm ON sm.id = m.series_id"
        " WHERE sm.series_code = 'US_NFP'",
    )[0]
    nfp = by_code["US_NFP"]
    assert (
        nfp["first_observation"],
        nfp["last_observation"],
        nfp["observations"],
        nfp["revisions"],
    ) == expected
    assert nfp["revisions"] > 0 and nfp["source"] == "demo" and nfp["frequency"] == "monthly"
    assert len(by_code) == sql_rows(migrated, "SELECT count(*) FROM series_metadata")[0][0]

    cpi = json.loads(seeded_cli("data", "series", "cpi", "--json").stdout)
    assert sorted(s["code"] for s in cpi["series"]) == ["GB_CPI", "JP_CPI", "US_CPI"]
    us = json.loads(seeded_cli("data", "series", "US_?PI", "--json").stdout)
    assert [s["code"] for s in us["series"]] == ["US_CPI"]
    literal = json.loads(seeded_cli("data", "series", "US%", "--json").stdout)
    assert literal["series"] == []  # % and _ are not wildcards

    human = seeded_cli("data", "series", "US_N*")
    assert human.exit_code == 0
    assert human.stdout.splitlines()[0].split()[:4] == ["code", "source", "frequency", "first"]
    assert human.stdout.splitlines()[1].split()[:3] == ["US_NFP", "demo", "monthly"]
    none = seeded_cli("data", "series", "NOPE")
    assert none.exit_code == 0 and none.stdout.strip() == "no series matching 'NOPE'"
    near = seeded_cli("data", "series", "US_UNRAT3", "--json")
    assert json.loads(near.stdout)["suggestion"] == "did you mean 'US_UNRATE'?"
    assert json.loads(seeded_cli("data", "series", "--json").stdout)["suggestion"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("asof", "US_NFP", "--at", "2025-01-15T00:00:00Z"),
        ("first-release", "US_NFP"),
        ("latest", "US_NFP", "--source", "demo"),
    ],
    ids=["asof", "first-release", "latest"],
)
def test_csv_output_parsed_back_equals_the_json_output(seeded_cli, args):
    import csv
    import io
    from datetime import datetime

    window = ("--start", "2024-09-01", "--end", "2024-12-31")
    document = seeded_cli("data", *args, *window, "--json")
    assert document.exit_code == 0, document.output
    view = json.loads(document.stdout)
    assert (view["start"], view["end"]) == ("2024-09-01", "2024-12-31")
    assert [o["observation_date"] for o in view["observations"]] == [
        "2024-09-01",
        "2024-10-01",
        "2024-11-01",
        "2024-12-01",
    ]
    table = seeded_cli("data", *args, *window, "--format", "csv")
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert table.stdout.splitlines()[0] == "observation_date,value,revision_number,release_time"
    parsed = [
        {
            "observation_date": r["observation_date"],
            "value": float(r["value"]) if r["value"] else None,
            "revision_number": int(r["revision_number"]),
            "release_time": r["release_time"],
        }
        for r in rows
    ]
    assert parsed == view["observations"]
    assert all(datetime.fromisoformat(r["release_time"]).tzinfo is not None for r in rows)
    same = seeded_cli("data", *args, *window, "--format", "json")
    assert json.loads(same.stdout) == view


def test_a_window_and_formats_are_checked(seeded_cli):
    window = ("--start", "2025-01-01", "--end", "2024-01-01")
    backwards = seeded_cli("data", "latest", "US_NFP", *window)
    assert backwards.exit_code == 2
    assert error_lines(backwards.stderr)[0] == (
        "error: the start 2025-01-01 is after the end 2024-01-01"
    )
    both = seeded_cli("data", "latest", "US_NFP", "--json", "--format", "csv")
    assert both.exit_code == 2 and "--json and --format csv" in both.stderr
    bad = seeded_cli("data", "latest", "US_NFP", "--start", "01/02/2024")
    assert bad.exit_code == 2
