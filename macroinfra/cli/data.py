"""`macroinfra data`: point-in-time views of a macro series."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, examples

if TYPE_CHECKING:
    from collections.abc import Callable

    from macroinfra.data.asof import SeriesView
    from macroinfra.db import Database

app = typer.Typer(help="Read point-in-time data.", no_args_is_help=True)

SeriesArgument = Annotated[
    str, typer.Argument(help="The series code, e.g. US_CPI.", show_default=False)
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source", help="The data source, when the code exists in several.", show_default=False
    ),
]


@app.command(
    "asof",
    epilog=examples(
        "macroinfra data asof US_CPI --at 2024-05-01T14:30:00Z",
        "macroinfra data asof US_CPI --at 2024-05-01T00:00:00Z --json",
    ),
)
def asof_(
    ctx: typer.Context,
    series: SeriesArgument,
    *,
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="The instant, with its time zone: 2024-05-01T14:30:00Z.",
            show_default=False,
        ),
    ],
    source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """For each observation, the latest revision released at or before --at."""
    from macroinfra.data import asof

    _show(lambda db: asof.as_of(db, series, asof.parse_instant(at), source=source), ctx, as_json)


def _view_command(name: str, view: str, doc: str) -> None:
    """Register `data <name>`, which shows asof.<view> (first-release and latest share it)."""

    def command(
        ctx: typer.Context,
        series: SeriesArgument,
        *,
        source: SourceOption = None,
        as_json: JsonOption = False,
    ) -> None:
        from macroinfra.data import asof

        _show(lambda db: getattr(asof, view)(db, series, source=source), ctx, as_json)

    command.__doc__ = doc
    app.command(name)(command)


_view_command(
    "first-release", "first_release", "For each observation, the value as first published."
)
_view_command("latest", "latest", "For each observation, the latest revision stored.")


def _show(read: Callable[[Database], SeriesView], ctx: typer.Context, as_json: bool) -> None:
    from macroinfra.cli import render

    render.emit(read(get_app(ctx).db), as_json=as_json, human=_human)


def _human(view: SeriesView) -> None:
    from datetime import UTC

    from macroinfra.cli import render

    s = view.series
    if view.at is not None:
        what = f"as of {view.at.isoformat()}"
    else:
        what = "as first released" if view.view == "first_release" else "latest revisions"
    if not view.observations:
        released = f" was released at or before {view.at.isoformat()}" if view.at else ""
        render.line(f"{s.code}: no observation{released}")
        return
    unit = f", {s.unit}" if s.unit else ""
    render.line(
        f"{s.code} ({s.source}): {s.name}{unit}; {what}: {len(view.observations)} observations"
    )
    render.table(
        ["observation", "value", "revision", "released (UTC)"],
        [
            (
                o.observation_date.isoformat(),
                "" if o.value is None else format(o.value.normalize(), "f"),
                o.revision_number,
                o.release_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            )
            for o in view.observations
        ],
    )
