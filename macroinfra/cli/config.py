"""`macroinfra config`: what the settings are and where each came from."""

from __future__ import annotations

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Every setting with its value and source; secrets are shown as ***."""
    from macroinfra.cli import render
    from macroinfra.settings import describe_settings

    rows = describe_settings(get_app(ctx).env_file)
    render.emit(
        rows,
        as_json=as_json,
        human=lambda rs: render.table(
            ["setting", "value", "source"], [(r.name, r.value, r.source) for r in rs]
        ),
    )
