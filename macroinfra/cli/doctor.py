"""`macroinfra doctor`: is every service up, authenticated, and (with --strict) the schema exact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import (
    JsonOption,
    ProfileOption,
    RuntimeOption,
    ServicesArgument,
    TimeoutOption,
)

if TYPE_CHECKING:
    from macroinfra.probes import Check, DoctorReport

MARKS = {"ok": "✓", "warning": "!", "failed": "✗", "skipped": "-"}
STYLES = {"ok": "green", "warning": "yellow", "failed": "red", "skipped": "dim"}
# Each group of checks in this order, under its heading (None: no heading).
GROUPS = {"service": None, "schema": "Schema against the declared spec:"}


def doctor(
    ctx: typer.Context,
    services: ServicesArgument = None,
    *,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Also check the schema against the declared spec, and fail on warnings.",
        ),
    ] = False,
    timeout: TimeoutOption = None,
    runtime: RuntimeOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every service answers and accepts the credentials; exit 1 if a check fails."""
    from macroinfra.cli import render
    from macroinfra.probes import run_doctor

    report = run_doctor(
        get_app(ctx).settings,
        [str(s) for s in services or []],
        strict=strict,
        timeout=timeout,
        runtime=runtime,
        profiles=[str(p) for p in profile or []],
    )
    render.emit(report, as_json=as_json, human=_human)
    if not report.ok:
        raise typer.Exit(1)


def _human(report: DoctorReport) -> None:
    from macroinfra.cli import render

    mode = ", strict" if report.strict else ""
    render.long_line(
        f"Doctor summary (runtime {report.runtime}, timeout {report.timeout_seconds:g} s{mode}):"
    )
    for group, heading in GROUPS.items():
        checks = [c for c in report.checks if c.group == group]
        if checks and heading:
            render.long_line(heading)
        for check in checks:
            _check(check, _label(check))
    counts = report.counts
    parts = [
        f"{counts[k]} {label}"
        for k, label in (
            ("ok", "ok"),
            ("warning", "warning" if counts["warning"] == 1 else "warnings"),
            ("failed", "failed"),
            ("skipped", "skipped"),
        )
        if counts[k]
    ]
    if not report.ok:
        verdict = "checks failed"
    elif counts["warning"]:
        verdict = "no failures, see the warnings above"
    else:
        verdict = "no issues found"
    render.long_line(
        f"{', '.join(parts)} in {_ms(report.elapsed_ms)}: {verdict}.",
        style="green" if report.ok else "red",
    )


def _check(check: Check, label: str) -> None:
    from macroinfra.cli import render

    status = check.status.value
    latency = f" ({_ms(check.latency_ms)})" if check.latency_ms is not None else ""
    title = f"{label}: " if label else ""
    render.long_line(f"[{MARKS[status]}] {title}{check.detail}{latency}", style=STYLES[status])
    for problem in check.problems:
        render.long_line(f"    • {problem}")
    if check.hint and status in {"warning", "failed"}:
        render.long_line(f"    fix: {check.hint}")


def _label(check: Check) -> str:
    """The check's name without its group's (a heading says it): "schema: tables" -> "tables"."""
    return "" if check.name == check.group else check.name.removeprefix(f"{check.group}: ")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"
