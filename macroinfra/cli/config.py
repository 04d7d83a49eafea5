"""`macroinfra config`: what the settings are and where each came from."""

from __future__ import annotations

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, examples

app = typer.Typer(
    help="Inspect configuration.",
    no_args_is_help=True,
    epilog=examples("macroinfra config show", "macroinfra config show --json"),
)


@app.command(
    "show",
    epilog=examples(
        "macroinfra config show",
        "macroinfra --env-file prod.env config show",
        "macroinfra config show --json",
    ),
)
def show(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Every setting with its value and source, and the .env file read; secrets are shown as ***."""
    from pathlib import Path

    from macroinfra.cli import render
    from macroinfra.settings import describe_settings

    report = describe_settings(get_app(ctx).env_file)
    for warning in report.warnings:
        render.warn(warning)
    if not as_json:
        render.status(
            f"read .env: {report.env_file}" if report.env_file else f"no .env found in {Path.cwd()}"
        )
    render.emit(
        report,
        as_json=as_json,
        human=lambda r: render.table(
            ["setting", "value", "source"], [(s.name, s.value, s.source) for s in r.settings]
        ),
    )
