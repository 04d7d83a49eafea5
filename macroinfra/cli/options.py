"""Options shared by several commands, declared once, and the confirmation rule."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from macroinfra.errors import OperationError, UsageError

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document to stdout.")
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a terminal)."),
]
RuntimeOption = Annotated[
    str | None,
    typer.Option(
        "--runtime",
        help="Where services run: auto, compose, local or external (default: MACROINFRA_RUNTIME).",
        show_default=False,
    ),
]


def confirm(question: str, *, yes: bool, what: str) -> None:
    """Ask before a destructive action; without a terminal, refuse unless --yes was given."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without confirmation", hint="pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise OperationError("cancelled: nothing was changed")
