"""`macroinfra up | down | ps`: the service lifecycle, over whichever runtime is selected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, RuntimeOption, YesOption

if TYPE_CHECKING:
    from macroinfra.runtime.base import Selection, StackResult

ServicesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Services to act on (default: all the runtime provides).",
                   show_default=False),
]  # fmt: skip


def _select(ctx: typer.Context, runtime: str | None) -> Selection:
    from macroinfra.cli import render
    from macroinfra.runtime import select_runtime

    selection = select_runtime(get_app(ctx).settings, runtime)
    if selection.reason.startswith("auto"):
        render.status(f"runtime {selection.runtime.name} ({selection.reason})")
    return selection


def up(
    ctx: typer.Context,
    services: ServicesArgument = None,
    *,
    runtime: RuntimeOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for services to be ready.")
    ] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Start the stack and wait until every service accepts clients. Idempotent."""
    from macroinfra.cli import render
    from macroinfra.runtime.base import validate_services

    names = validate_services(services or [])
    selection = _select(ctx, runtime)
    with render.progress("starting services") as say:
        result = selection.runtime.up(names, timeout=timeout, progress=say)
    render.emit(result, as_json=as_json, human=_human)


def down(
    ctx: typer.Context,
    *,
    runtime: RuntimeOption = None,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Also delete the services' data (asks first).")
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Stop the stack; data is kept unless --volumes is given."""
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    selection = _select(ctx, runtime)
    if volumes:
        doomed = selection.runtime.volumes()
        if doomed:
            listing = "\n".join(f"  {v}" for v in doomed)
            confirm(f"Delete these, with all their data?\n{listing}\n", yes=yes,
                    what="delete data volumes")  # fmt: skip
    result = selection.runtime.down(volumes=volumes)
    render.emit(result, as_json=as_json, human=_human)


def ps(ctx: typer.Context, *, runtime: RuntimeOption = None, as_json: JsonOption = False) -> None:
    """Each service with its state, health and ports."""
    from macroinfra.cli import render

    result = _select(ctx, runtime).runtime.ps()
    render.emit(result, as_json=as_json, human=_human)


def _human(result: StackResult) -> None:
    from macroinfra.cli import render

    if result.message:
        render.status(result.message)
    for verb, names in (("started", result.started), ("already running", result.already_running),
                        ("stopped", result.stopped), ("deleted", result.deleted)):  # fmt: skip
        if names:
            render.status(f"{verb}: {', '.join(names)}")
    render.table(
        ["service", "state", "health", "ports", "detail"],
        [(s.name, s.state, s.health or "", ", ".join(s.ports), s.detail or "")
         for s in result.services],
        title=f"runtime: {result.runtime}",
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(ps)
