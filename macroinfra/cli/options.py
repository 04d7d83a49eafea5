"""Options shared by several commands, declared once, and the confirmation rule.

Names of services, profiles and runtimes are the enums of `macroinfra.services`, so `--help`
lists them, completion offers them, and a wrong one exits 2 from Typer before anything runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from macroinfra.errors import OperationError, UsageError
from macroinfra.services import Profile, RuntimeName, ServiceName


def json_when(*values: object) -> Callable[[typer.Context, Any], Any]:
    """An option callback telling the per-run object that output is JSON when the option
    takes one of `values`, so that a failure is a JSON document too."""

    def callback(ctx: typer.Context, value: Any) -> Any:
        if value in values and ctx.find_root().obj is not None:
            ctx.find_root().obj.json_output = True
        return value

    return callback


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print exactly one JSON document to stdout.", callback=json_when(True)
    ),
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a terminal)."),
]
RuntimeOption = Annotated[
    RuntimeName | None,
    typer.Option(
        "--runtime",
        help="Where services run (default: MACROINFRA_RUNTIME, else auto).",
        show_default=False,
    ),
]
ServicesArgument = Annotated[
    list[ServiceName] | None,
    typer.Argument(
        help="Services to act on (default: all the runtime provides).", show_default=False
    ),
]
ProfileOption = Annotated[
    list[Profile] | None,
    typer.Option(
        "--profile", help="Compose profiles in use: full (adds kafka).", show_default=False
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.1,
        max=3600,
        show_default=False,
        help="Seconds the command may spend waiting for the services "
        "(default: 120 for up and restart, MACROINFRA_PROBE_TIMEOUT (5) for doctor).",
    ),
]
WAIT_TIMEOUT_S = 120.0  # up and restart, when --timeout is not given


def examples(*invocations: str) -> str:
    """A command's `--help` epilog: the two or three invocations people use, kept on their own
    lines (Click rewraps an epilog unless its paragraph starts with \\b)."""
    lines = "\n".join(f"  {line}" for line in invocations)
    return f"\b\nExamples:\n{lines}"


# Words people reach for, and the command that does it (Click already suggests near spellings).
SYNONYMS = {
    "upgrade": "migrate",
    "head": "migrate",
    "downgrade": "migrate down",
    "start": "up",
    "stop": "down",
    "health": "doctor",
    "check": "doctor",
    "info": "status",
}


class CommandGroup(TyperGroup):
    """A command group whose "No such command" also names the command a synonym means."""

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # Click's UsageError, from the Click that Typer bundles
            meant = SYNONYMS.get(args[0].lower()) if args else None
            if meant and isinstance(getattr(exc, "message", None), str):
                unknown = exc.message.split(" Did you mean")[0]  # type: ignore[attr-defined]
                exc.message = f"{unknown} Did you mean `macroinfra {meant}`?"  # type: ignore[attr-defined]
            raise


def confirm(question: str, *, yes: bool, what: str) -> None:
    """Ask before a destructive action; without a terminal, refuse unless --yes was given."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without confirmation", hint="pass --yes to confirm")
    # Asked and answered on stderr and stdin only: stdout stays the command's result.
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise OperationError("cancelled: nothing was changed")


# -- shell completion: values the shell offers after TAB ----------------------------------------

COMPLETION_TIMEOUT_S = 1.0  # a TAB that waits longer than this for the database offers nothing
COMPLETION_LIMIT = 200


def complete_tables(incomplete: str) -> list[str]:
    """The declared tables (`schema show TABLE`), without asking the database."""
    from macroinfra.timescale.spec import ALL_TABLES

    return [t for t in ALL_TABLES if t.startswith(incomplete)]


def complete_series(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """Series codes from the database (series_metadata) when it answers within
    COMPLETION_TIMEOUT_S; nothing otherwise, and never a message: completion must not print."""
    import threading

    found: list[str] = []

    def read() -> None:
        try:
            found.extend(series_codes(_completion_settings(ctx), incomplete))
        except Exception:  # no settings, no server, no table: nothing to offer
            found.clear()

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(COMPLETION_TIMEOUT_S)
    return [] if worker.is_alive() else list(found)


def _completion_settings(ctx: Any) -> Any:
    from macroinfra.settings import load_settings

    return load_settings(ctx.find_root().params.get("env_file"))


def series_codes(settings: Any, prefix: str) -> list[str]:
    """The series codes that start with `prefix`, in order (at most COMPLETION_LIMIT)."""
    import psycopg

    timeout_ms = int(COMPLETION_TIMEOUT_S * 1000)
    with psycopg.connect(
        settings.libpq_url,
        connect_timeout=2,  # libpq's least; the caller's deadline is shorter
        options=f"-c statement_timeout={timeout_ms}",
        application_name="macroinfra completion",
    ) as conn:
        rows = conn.execute(
            "SELECT DISTINCT series_code FROM series_metadata"
            " WHERE left(series_code, length(%(p)s)) = %(p)s ORDER BY 1 LIMIT %(n)s",
            {"p": prefix, "n": COMPLETION_LIMIT},
        ).fetchall()
    return [code for (code,) in rows]
