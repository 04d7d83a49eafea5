"""`macroinfra data`: load files, list the series, point-in-time views of a series."""

from __future__ import annotations

import enum
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, complete_series, examples, json_when
from macroinfra.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from macroinfra.data.asof import SeriesView
    from macroinfra.data.catalog import SeriesList
    from macroinfra.data.files import FileLoadResult
    from macroinfra.db import Database

app = typer.Typer(
    help="Load files, list series, read point-in-time data.",
    no_args_is_help=True,
    epilog=examples(
        "macroinfra data series CPI",
        "macroinfra data load market_data prices.csv",
        "macroinfra data asof US_CPI --at 2024-05-01T14:30:00Z --format csv",
    ),
)


class FileFormat(enum.StrEnum):
    csv = "csv"
    parquet = "parquet"


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _complete_series(ctx: typer.Context, incomplete: str) -> list[str]:
    """The series codes a shell offers (Typer's completion callbacks take no Click
    parameter)."""
    return complete_series(ctx, None, incomplete)


SeriesArgument = Annotated[
    str,
    typer.Argument(
        help="The series code, e.g. US_CPI.", show_default=False, autocompletion=_complete_series
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source", help="The data source, when the code exists in several.", show_default=False
    ),
]
StartOption = Annotated[
    datetime | None,
    typer.Option(
        "--start",
        formats=["%Y-%m-%d"],
        show_default=False,
        help="The first observation date to show, YYYY-MM-DD.",
    ),
]
EndOption = Annotated[
    datetime | None,
    typer.Option(
        "--end",
        formats=["%Y-%m-%d"],
        show_default=False,
        help="The last observation date to show, YYYY-MM-DD.",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        callback=json_when(OutputFormat.json),
        help="table (for people), csv (header row, ISO 8601 times with their zone) or json.",
    ),
]


# -- data load -------------------------------------------------------------------------------


@app.command(
    "load",
    epilog=examples(
        "macroinfra data load market_data bars.csv",
        "macroinfra data load macro_series - --json < releases.csv",
        "macroinfra data load market_data bars.parquet --format parquet",
    ),
)
def load_(
    ctx: typer.Context,
    table: Annotated[
        str, typer.Argument(help="The table to load into, e.g. market_data.", show_default=False)
    ],
    file: Annotated[
        str,
        typer.Argument(
            help="The file to read; - for standard input. CSV: a header row names the "
            "columns; ticker and series_code may stand for instrument_id and series_id.",
            show_default=False,
        ),
    ],
    *,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="The file's format.")
    ] = FileFormat.csv,
    as_json: JsonOption = False,
) -> None:
    """Load a file into a table: idempotent (rows already stored are skipped), all or
    nothing, macro_series' revision rules kept."""
    from macroinfra.cli import render
    from macroinfra.data.files import load_file

    db = get_app(ctx).db
    with _opened(file) as stream, _progress(f"loading {table}") as say:
        result = load_file(db, table, stream, format=file_format.value, name=file, progress=say)
    render.emit(result, as_json=as_json, human=_loaded)


def _opened(file: str):  # noqa: ANN202
    from contextlib import nullcontext

    if file == "-":
        return nullcontext(sys.stdin.buffer)
    try:
        return open(file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(
            f"cannot read {file}: {exc.strerror or exc}",
            hint="give the path of a readable file, or - for standard input",
        ) from None


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int, float], None] | None]:
    """Rows read and rows/s on a terminal (stderr); nothing otherwise."""
    from macroinfra.cli import render

    if render.QUIET or not render.err().is_terminal:
        yield None
        return
    with render.progress(description) as update:

        def say(rows: int, inserted: int, seconds: float) -> None:
            rate = rows / seconds if seconds > 0 else 0.0
            update(f"{description}: {rows:,} rows read, {inserted:,} inserted, {rate:,.0f} rows/s")

        yield say


def _loaded(result: FileLoadResult) -> None:
    from macroinfra.cli import render

    render.line(
        f"{result.table}: inserted {result.inserted:,} of {result.offered:,} rows "
        f"({result.skipped:,} already present) in {result.seconds:.2f} s "
        f"({result.rows_per_second:,.0f} rows/s)"
    )


# -- data series -----------------------------------------------------------------------------


@app.command(
    "series",
    epilog=examples(
        "macroinfra data series",
        "macroinfra data series 'US_*'",
        "macroinfra data series cpi --json",
    ),
)
def series_(
    ctx: typer.Context,
    pattern: Annotated[
        str | None,
        typer.Argument(
            help="Codes to show: * and ? are wildcards; without them, a part of the code. "
            "Case-insensitive.",
            show_default=False,
        ),
    ] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """The series codes, with source, frequency, first and last observation, and how many
    revisions are stored."""
    from macroinfra.cli import render
    from macroinfra.data.catalog import list_series

    render.emit(list_series(get_app(ctx).db, pattern), as_json=as_json, human=_series)


def _series(listing: SeriesList) -> None:
    from macroinfra.cli import render

    if not listing.series:
        what = f" matching {listing.pattern!r}" if listing.pattern else ""
        near = f" ({listing.suggestion})" if listing.suggestion else ""
        render.line(f"no series{what}{near}")
        return
    render.table(
        ["code", "source", "frequency", "first", "last", "observations", "revisions", "name"],
        [
            (
                s.code,
                s.source,
                s.frequency,
                s.first_observation.isoformat() if s.first_observation else "",
                s.last_observation.isoformat() if s.last_observation else "",
                f"{s.observations:,}",
                f"{s.revisions:,}",
                s.name,
            )
            for s in listing.series
        ],
    )


# -- point-in-time views ---------------------------------------------------------------------


@app.command(
    "asof",
    epilog=examples(
        "macroinfra data asof US_CPI --at 2024-05-01T14:30:00Z",
        "macroinfra data asof US_CPI --at 2024-05-01T00:00:00Z --start 2023-01-01 --format csv",
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
    start: StartOption = None,
    end: EndOption = None,
    output: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
) -> None:
    """For each observation, the latest revision released at or before --at."""
    from macroinfra.data import asof

    instant = asof.parse_instant(at)
    window = _window(start, end)
    _show(
        lambda db: asof.as_of(db, series, instant, source=source, **window),
        ctx,
        _format(output, as_json),
    )


def _view_command(name: str, view: str, doc: str) -> None:
    """Register `data <name>`, which shows asof.<view> (first-release and latest share it)."""

    def command(
        ctx: typer.Context,
        series: SeriesArgument,
        *,
        source: SourceOption = None,
        start: StartOption = None,
        end: EndOption = None,
        output: FormatOption = OutputFormat.table,
        as_json: JsonOption = False,
    ) -> None:
        from macroinfra.data import asof

        window = _window(start, end)
        _show(
            lambda db: getattr(asof, view)(db, series, source=source, **window),
            ctx,
            _format(output, as_json),
        )

    command.__doc__ = doc
    app.command(
        name,
        epilog=examples(
            f"macroinfra data {name} US_NFP",
            f"macroinfra data {name} US_NFP --start 2024-01-01 --end 2024-12-31 --format csv",
            f"macroinfra data {name} US_NFP --json",
        ),
    )(command)


_view_command(
    "first-release", "first_release", "For each observation, the value as first published."
)
_view_command("latest", "latest", "For each observation, the latest revision stored.")


def _window(start: datetime | None, end: datetime | None) -> dict:
    return {"start": start.date() if start else None, "end": end.date() if end else None}


def _format(output: OutputFormat, as_json: bool) -> OutputFormat:
    if as_json and output not in (OutputFormat.table, OutputFormat.json):
        raise UsageError(
            f"--json and --format {output.value} ask for two outputs", hint="give one of them"
        )
    return OutputFormat.json if as_json else output


def _show(read: Callable[[Database], SeriesView], ctx: typer.Context, output: OutputFormat) -> None:
    from macroinfra.cli import render

    view = read(get_app(ctx).db)
    if output is OutputFormat.csv:
        _csv(view)
    else:
        render.emit(view, as_json=output is OutputFormat.json, human=_human)


def _csv(view: SeriesView) -> None:
    """One header row, then one row per observation: the JSON output's observations, with the
    value as the decimal stored and times in ISO 8601 with their zone."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["observation_date", "value", "revision_number", "release_time"])
    for o in view.observations:
        writer.writerow(
            [
                o.observation_date.isoformat(),
                "" if o.value is None else format(o.value.normalize(), "f"),
                o.revision_number,
                o.release_time.isoformat(),
            ]
        )


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
