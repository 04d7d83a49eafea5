"""`macroinfra up | down | ps | logs | restart | status`: the service lifecycle, over whichever
runtime is selected."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import (
    WAIT_TIMEOUT_S,
    JsonOption,
    ProfileOption,
    RuntimeOption,
    ServicesArgument,
    TimeoutOption,
    YesOption,
    examples,
    json_when,
)
from macroinfra.services import ServiceName

if TYPE_CHECKING:
    from macroinfra.runtime.base import StackResult
    from macroinfra.runtime.select import Selection
    from macroinfra.runtime.status import ConnectionVariable, StackStatus
    from macroinfra.settings import Settings


def _select(ctx: typer.Context, runtime: str | None) -> Selection:
    from macroinfra.cli import render
    from macroinfra.runtime import select_runtime

    a = get_app(ctx)
    selection = select_runtime(a.settings, runtime)
    if selection.reason.startswith("auto"):
        render.status(f"runtime {selection.runtime.name} ({selection.reason})")
    return selection


def _because(result: StackResult, selection: Selection) -> StackResult:
    """The result, saying why this runtime answered (which one owns the stack, and how)."""
    return replace(result, selected_because=selection.reason)


def _names(values: list[str] | None) -> list[str]:
    """Typer's enum choices as plain names."""
    return [str(v) for v in values or []]


def up(
    ctx: typer.Context,
    services: ServicesArgument = None,
    *,
    profile: ProfileOption = None,
    runtime: RuntimeOption = None,
    timeout: TimeoutOption = None,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Return once started, without waiting for health (compose; local always waits).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start the stack and wait until every service accepts clients. Idempotent."""
    from macroinfra.cli import render

    selection = _select(ctx, runtime)
    with render.progress("starting services") as say:
        result = selection.runtime.up(
            _names(services),
            timeout=timeout or WAIT_TIMEOUT_S,
            progress=say,
            profiles=_names(profile),
            wait=not no_wait,
        )
    render.emit(_because(result, selection), as_json=as_json, human=_human)
    if not as_json:
        _next_steps(get_app(ctx).settings, result)


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
    """Stop the stack (every profile's services); data is kept unless --volumes is given."""
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    selection = _select(ctx, runtime)
    if volumes:
        doomed = selection.runtime.volumes()
        if doomed:
            listing = "\n".join(f"  {v}" for v in doomed)
            confirm(
                f"Delete these, with all their data?\n{listing}\n",
                yes=yes,
                what="delete data volumes",
            )
    with render.progress("stopping services"):
        result = selection.runtime.down(volumes=volumes)
    render.emit(_because(result, selection), as_json=as_json, human=_human)


def ps(ctx: typer.Context, *, runtime: RuntimeOption = None, as_json: JsonOption = False) -> None:
    """Each service with its state, health and ports."""
    from macroinfra.cli import render

    selection = _select(ctx, runtime)
    render.emit(_because(selection.runtime.ps(), selection), as_json=as_json, human=_human)


def logs(
    ctx: typer.Context,
    service: Annotated[
        ServiceName | None,
        typer.Argument(help="The service (default: every one).", show_default=False),
    ] = None,
    *,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until interrupted.")
    ] = False,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail", "-n", min=0, help="Only the last N lines of each service.", show_default=False
        ),
    ] = None,
    runtime: RuntimeOption = None,
) -> None:
    """A service's log lines (or every service's)."""
    lines = _select(ctx, runtime).runtime.logs(
        str(service) if service else None, follow=follow, tail=tail
    )
    try:
        for line in lines:
            typer.echo(line)
    except KeyboardInterrupt:  # the way to end --follow
        raise typer.Exit(0) from None


def restart(
    ctx: typer.Context,
    services: ServicesArgument = None,
    *,
    runtime: RuntimeOption = None,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restart services (default: every one created) and wait until they are ready."""
    from macroinfra.cli import render

    selection = _select(ctx, runtime)
    with render.progress("restarting services") as say:
        result = selection.runtime.restart(
            _names(services), timeout=timeout or WAIT_TIMEOUT_S, progress=say
        )
    render.emit(result, as_json=as_json, human=_human)


def status(
    ctx: typer.Context,
    *,
    env: Annotated[
        bool,
        typer.Option(
            "--env",
            help="Print the connection variables, secrets included (-o env): DATABASE_URL "
            "(postgresql://, for psql and psycopg), SQLALCHEMY_DATABASE_URL "
            "(postgresql+psycopg://), REDIS_URL, MONGO_URL, S3 and Kafka settings.",
        ),
    ] = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="table, json, or env (connection variables with "
            "their secrets, as NAME=value lines for a notebook or `eval`).",
            show_default=False,
            callback=json_when("json"),
        ),
    ] = None,
    runtime: RuntimeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each service's state, and how to connect to it (secrets only with --env).

    Exits 1 when the stack is not running (no service of it runs), so scripts can test it."""
    from macroinfra.cli import render
    from macroinfra.errors import UsageError
    from macroinfra.runtime.status import connection_variables, stack_status

    chosen = {f for f, on in (("env", env), ("json", as_json), (output, output)) if on}
    if len(chosen) > 1 or not chosen <= {"table", "json", "env"}:
        raise UsageError(
            "choose one output: --output table|json|env (--env and --json are short for "
            "-o env and -o json)"
        )
    form = chosen.pop() if chosen else "table"
    if form == "env":
        render_env(connection_variables(get_app(ctx).settings, reveal_secrets=True))
        return
    selection = _select(ctx, runtime)
    result = stack_status(selection.runtime, get_app(ctx).settings)
    result = replace(result, stack=_because(result.stack, selection))
    render.emit(result, as_json=form == "json", human=_human_status)
    if not result.running:
        render.status("the stack is not running: start it with `macroinfra up`")
        raise typer.Exit(1)


def render_env(variables: list[ConnectionVariable]) -> None:
    """NAME=value lines that a POSIX shell (`eval "$(macroinfra status --env)"`) and
    python-dotenv read alike."""
    for v in variables:
        typer.echo(f"{v.name}={env_quote(v.value)}")


def env_quote(value: str) -> str:
    """Quoted so that sh and python-dotenv read the same value: bare when nothing needs quoting,
    else single quotes, else double quotes (a `'` and nothing either would expand). A value
    holding `${`, or a `'` with one of $`"\\, is quoted for the shell only: python-dotenv has no
    way to say it (URLs are percent-encoded, so only a raw secret can be such a value)."""
    import re
    import shlex

    if re.fullmatch(r"[\w@%+=:,./-]*", value) and value:
        return value
    if "'" not in value and "\\" not in value and "${" not in value:
        return f"'{value}'"
    if not re.search(r'[$`"\\]', value):
        return f'"{value}"'
    return shlex.quote(value)


def _human(result: StackResult) -> None:
    from macroinfra.cli import render

    if result.message:
        render.status(result.message)
    for verb, names in (
        ("started", result.started),
        ("already running", result.already_running),
        ("restarted", result.restarted),
        ("stopped", result.stopped),
        ("deleted", result.deleted),
    ):
        if names:
            render.status(f"{verb}: {', '.join(names)}")
    render.table(
        ["service", "state", "health", "ports", "detail"],
        [
            (s.name, s.state, s.health or "", ", ".join(s.ports), s.detail or "")
            for s in result.services
        ],
        title=f"runtime: {result.runtime}"
        + (f" ({result.selected_because})" if result.selected_because else ""),
    )


def _next_steps(settings: Settings, result: StackResult) -> None:
    """After `up`: how to reach what runs (secrets hidden), and what to do next."""
    from macroinfra.cli import render
    from macroinfra.runtime.status import connection_variables

    running = {s.name for s in result.services if s.state == "running"}
    if not running:
        return
    first: dict[str, str] = {}  # each running service's first variable: its URL or address
    for variable in connection_variables(settings):
        if variable.service in running:
            first.setdefault(variable.service, f"{variable.name}={variable.value}")
    for line in first.values():
        render.status(line)
    render.status("secrets: `macroinfra status --env`; next: `macroinfra migrate`")


def _human_status(status: StackStatus) -> None:
    from macroinfra.cli import render

    _human(status.stack)
    render.table(
        ["variable", "value"],
        [(v.name, v.value) for v in status.connection],
        title="connection (`macroinfra status --env` prints them with their secrets)",
    )


EXAMPLES = {
    up: ("macroinfra up", "macroinfra up --runtime local", "macroinfra up timescaledb redis"),
    down: ("macroinfra down", "macroinfra down --volumes --yes"),
    ps: ("macroinfra ps", "macroinfra ps --json"),
    logs: ("macroinfra logs timescaledb --tail 50", "macroinfra logs redis --follow"),
    restart: ("macroinfra restart", "macroinfra restart redis --timeout 60"),
    status: ("macroinfra status", "macroinfra status --env", "macroinfra status --json"),
}


def register(app: typer.Typer) -> None:
    for command, invocations in EXAMPLES.items():
        app.command(epilog=examples(*invocations))(command)
