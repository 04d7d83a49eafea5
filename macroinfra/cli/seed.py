"""`macroinfra seed`: load data sets into the database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, examples

if TYPE_CHECKING:
    from macroinfra.data.demo import SeedResult

app = typer.Typer(
    help="Load data sets.", no_args_is_help=True, epilog=examples("macroinfra seed demo")
)


@app.command(
    epilog=examples(
        "macroinfra seed demo",
        "macroinfra seed demo --years 2 --instruments 5",
        "macroinfra seed demo --end 2024-12-31 --json",
    )
)
def demo(
    ctx: typer.Context,
    *,
    years: Annotated[
        int, typer.Option("--years", min=1, max=30, help="Years of history, up to the end.")
    ] = 10,
    instruments: Annotated[
        int, typer.Option("--instruments", min=1, max=500, help="How many instruments.")
    ] = 20,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--end",
            formats=["%Y-%m-%d"],
            show_default=False,
            help="The last day of the data, YYYY-MM-DD (default: today, UTC).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load a synthetic demo data set into all 7 hypertables. Idempotent: a second run
    inserts nothing."""
    from macroinfra.cli import render
    from macroinfra.data.demo import seed_demo

    with render.rows_progress("seeding the demo data", enabled=not as_json) as (say, on_rows):
        result = seed_demo(
            get_app(ctx).db,
            years=years,
            instruments=instruments,
            end=end.date() if end else None,
            progress=say,
            on_rows=on_rows,
        )
    render.emit(result, as_json=as_json, human=_human)


def _human(result: SeedResult) -> None:
    from macroinfra.cli import render

    render.table(
        ["table", "offered", "inserted", "skipped", "seconds"],
        [
            (r.table, f"{r.offered:,}", f"{r.inserted:,}", f"{r.skipped:,}", f"{r.seconds:.2f}")
            for r in result.loads
        ],
        title=f"demo data {result.start} to {result.end}, {result.instruments} instruments",
    )
    render.line(
        f"inserted {result.inserted:,} of {result.offered:,} rows in {result.seconds:.1f} s"
    )
    if result.compressed_chunks is not None:
        render.line(f"compressed chunks due for compression: {result.compressed_chunks}")
