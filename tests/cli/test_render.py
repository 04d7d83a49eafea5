"""Output that fits: a table that does not fit the terminal becomes `column: value` lines, and
no URL, path or identifier is split across lines."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from macroinfra.cli import render

URL = "postgresql+psycopg://macro_user:***@127.0.0.1:35432/macro_trading"
PATH = "/var/lib/macroinfra/postgres/a-rather-long-folder-name/postmaster.pid"


@pytest.fixture
def console(monkeypatch):
    def make(width: int) -> Console:
        c = Console(file=io.StringIO(), width=width, no_color=True, highlight=False)
        monkeypatch.setattr(render, "out", lambda: c)
        return c

    return make


def _text(c: Console) -> str:
    return c.file.getvalue()


def test_a_table_that_fits_is_a_table(console):
    c = console(200)
    render.table(["variable", "value"], [("DATABASE_URL", URL)], title="connection")
    lines = _text(c).splitlines()
    assert lines[1].split() == ["variable", "value"]
    assert lines[2].split() == ["DATABASE_URL", URL]


@pytest.mark.parametrize("width", [40, 70])
def test_a_table_too_wide_folds_into_lines_and_never_splits_a_url(console, width):
    c = console(width)
    render.table(["variable", "value"], [("DATABASE_URL", URL), ("STATE", PATH)], title="t")
    lines = _text(c).splitlines()
    assert lines == ["t", f"DATABASE_URL: {URL}", f"STATE: {PATH}"]


def test_wider_rows_fold_into_a_record_per_row(console):
    c = console(70)
    rows = [
        ("timescaledb", "running", "healthy", "127.0.0.1:35432", ""),
        ("mongodb", "not provided", "", "", "not run by the local runtime (use compose)"),
    ]  # noqa: E501
    render.table(["service", "state", "health", "ports", "detail"], rows)
    assert _text(c).splitlines() == [
        "service: timescaledb",
        "  state: running",
        "  health: healthy",
        "  ports: 127.0.0.1:35432",
        "service: mongodb",
        "  state: not provided",
        "  detail: not run by the local runtime (use compose)",
    ]


def test_a_mark_column_folds_in_front_of_the_name_and_own_lines_stay_under_their_value(console):
    c = console(40)
    rows = [
        ("≠", "chunk interval", "3 months (90 days)", "14 days"),
        ("", "unique indexes", "include curve_date", "pk_curves (id, curve_date)\nuq_curves_key"),
    ]
    render.table(["", "curves", "declared", "actual"], rows)
    assert _text(c).splitlines() == [
        "≠ curves: chunk interval",
        "  declared: 3 months (90 days)",
        "  actual: 14 days",
        "curves: unique indexes",
        "  declared: include curve_date",
        "  actual: pk_curves (id, curve_date)",
        "    uq_curves_key",
    ]


def test_json_never_carries_a_nan_or_an_infinity(capsys):
    import json
    from decimal import Decimal

    render.emit_json({"a": Decimal("NaN"), "b": float("inf"), "c": Decimal("1.25"), "d": True})
    text = capsys.readouterr().out
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == {
        "schema_version": render.SCHEMA_VERSION,
        "a": None,
        "b": None,
        "c": 1.25,
        "d": True,
    }


def test_every_document_is_an_object_with_its_schema_version_first(capsys):
    import json

    render.emit_json([1, 2])
    render.emit_json({"x": 1})
    first, second = capsys.readouterr().out.split("\n}\n")[:2]
    assert json.loads(first + "}") == {"schema_version": 1, "items": [1, 2]}
    assert list(json.loads(second + "}")) == ["schema_version", "x"]


def test_a_duration_is_given_in_seconds_and_its_key_says_so():
    from dataclasses import dataclass
    from datetime import timedelta

    @dataclass
    class Policy:
        chunk_interval: timedelta | None
        compress_after: timedelta | None
        name: str

    assert render.to_data(Policy(timedelta(days=30), None, "p")) == {
        "chunk_interval_seconds": 2592000.0,
        "compress_after_seconds": None,
        "name": "p",
    }
