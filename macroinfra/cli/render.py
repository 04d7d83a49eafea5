"""The one place where results become output.

People read stderr, programs read stdout: status lines, warnings, progress and errors go to
stderr; tables and `--json` documents go to stdout. User data is printed literally (no Rich
markup or highlighting). Rich honours NO_COLOR and drops colour when stdout is not a terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from macroinfra.errors import MacroinfraError


PIPE_WIDTH = 160


@cache
def out() -> Console:
    import os

    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH  # a pipe or a file has no width: don't fold tables at 80
    return console


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def to_data(value: Any) -> Any:
    """Dataclasses, pydantic models, dates and paths as plain JSON values; a duration is a
    number of seconds, named so."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {_key(f): to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in getattr(type(value), "__json_properties__", ()):
            data[name] = to_data(getattr(value, name))
        return data
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_data(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | float):
        # JSON has no NaN or infinity: a value that is not a number is no value.
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


SCHEMA_VERSION = 1  # of every --json document; raised when a key changes meaning or goes


def _key(field: dataclasses.Field[Any]) -> str:
    """A field's JSON key, with its unit: a duration (timedelta, given in seconds) is
    `<name>_seconds`, whether or not it holds a value."""
    if "timedelta" in str(field.type) and not field.name.endswith("_seconds"):
        return f"{field.name}_seconds"
    return field.name


def emit_json(value: Any) -> None:
    """One JSON object on stdout, `schema_version` first (a list is given as its `items`)."""
    data = to_data(value)
    if not isinstance(data, dict):
        data = {"items": data}
    data = {"schema_version": SCHEMA_VERSION, **data}
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def emit_error_json(message: str, hint: str | None, problems: Sequence[str], code: int) -> None:
    """The error document of a failed --json run (docs/json/error.schema.json)."""
    emit_json(
        {
            "error": readable(message),
            "hint": hint and readable(hint),
            "problems": [readable(p) for p in problems],
            "exit_code": code,
        }
    )


def emit(value: Any, *, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        emit_json(value)
    else:
        human(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Rows as a table; where the table does not fit the width, as `column: value` lines, so
    that no URL, path or identifier is ever split across lines."""
    from rich.measure import Measurement
    from rich.table import Table

    console = out()
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    t = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in cells:
        t.add_row(*row)
    unbounded = console.options.update(max_width=1_000_000)  # the width it needs, unwrapped
    if Measurement.get(console, unbounded, t).maximum <= console.width:
        console.print(t)
        return
    if title:
        console.print(title, markup=False, soft_wrap=True)
    if len(columns) == 2:  # a name and its value: one line each
        for name, value in cells:
            console.print(f"{name}: {value}", markup=False, soft_wrap=True)
        return
    marked = columns[0] == ""  # a first column without a name marks its row (e.g. ≠)
    for row in cells:
        first, *rest = zip(columns, row, strict=True)
        heading = f"{first[0]}: {first[1]}"
        if marked:
            (column, value), *rest = rest
            heading = f"{first[1]} {column}: {value}".lstrip()
        console.print(heading, markup=False, soft_wrap=True, style="bold")
        for column, value in rest:
            if value:
                value = value.replace("\n", "\n    ")  # a value's own lines, under it
                console.print(f"  {column}: {value}", markup=False, soft_wrap=True)


def line(text: str, *, style: str | None = None) -> None:
    """A result line for people (stdout)."""
    out().print(text, style=style, markup=False)


QUIET = False  # --quiet: stderr carries errors only (no status lines, warnings or progress)
VERBOSE = False  # --verbose: each step a line of its own, between the log lines (no spinner)


def status(text: str) -> None:
    """A status line (stderr)."""
    if not QUIET:
        err().print(text, markup=False, style="dim")


def warn(text: str) -> None:
    if not QUIET:
        err().print(f"warning: {text}", markup=False, style="yellow")


ERROR_LINE_MAX = 300  # an echoed input longer than this is cut in the middle


def readable(text: str, limit: int = ERROR_LINE_MAX) -> str:
    """`text` cut in the middle when longer than `limit`, saying how much was cut: an error
    that echoes a 100 kB argument stays one readable line."""
    if len(text) <= limit:
        return text
    keep = limit - 40
    cut = len(text) - keep
    return f"{text[: keep - 20]}...({cut} characters cut)...{text[-20:]}"


def error(exc: MacroinfraError) -> None:
    console = err()
    console.print(f"error: {readable(exc.message)}", markup=False, style="bold red")
    for problem in exc.problems:
        console.print(f"  {readable(problem)}", markup=False)
    if exc.hint:
        console.print(f"hint: {readable(exc.hint)}", markup=False)


@contextmanager
def progress(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner on a terminal (stderr); plain status lines otherwise. Yields an update()."""
    console = err()
    if QUIET or VERBOSE or not console.is_terminal:
        yield status
        return
    with console.status(description) as spinner:
        yield lambda text: spinner.update(text)


@contextmanager
def rows_progress(
    description: str, *, enabled: bool = True
) -> Iterator[tuple[Callable[[str], None], Callable[[Any], None] | None]]:
    """A bar per table with its rows (stderr), on a terminal unless --quiet or not `enabled`
    (--json). Yields (say, on_rows): on_rows takes events with .table, .step, .steps, .rows,
    .done; without a bar it is None and say prints plain status lines (or nothing, disabled)."""
    console = err()
    if not enabled or QUIET or VERBOSE or not console.is_terminal:
        yield (status if enabled else lambda _text: None), None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, Any] = {}
        rows: dict[str, int] = {}
        overall = bar.add_task(description, total=None, rows=0)

        def on_rows(event: Any) -> None:
            if event.table not in tasks:
                tasks[event.table] = bar.add_task(event.table, total=None, rows=0)
            task = tasks[event.table]
            if event.done:
                bar.update(task, total=1, completed=1, rows=event.rows)
            else:
                bar.update(task, rows=event.rows)
            rows[event.table] = event.rows
            finished = sum(1 for t in bar.tasks if t.id != overall and t.finished)
            bar.update(overall, total=event.steps, completed=finished, rows=sum(rows.values()))

        def say(text: str) -> None:
            bar.update(overall, description=text)

        yield say, on_rows
        bar.update(overall, description=description)


def long_line(text: str, *, style: str | None = None) -> None:
    """A result line (stdout) that Rich never breaks: a terminal wraps it, a pipe keeps it whole."""
    out().print(text, style=style, markup=False, soft_wrap=True)
