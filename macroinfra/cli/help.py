"""`--help` that a newcomer can act on, set once for every command of the tree.

Typer shows a parameter's Python type (`<str>`, `<list[str]>`, `<float range>`) and writes a
required argument as `{name}`. `tidy` walks the Click tree once, when the root group is built,
and gives each parameter a metavar that says what to type (`SERIES`, `FILE`, `SECONDS`,
`[SERVICE]...`), choices spelt out, and each command a one-line summary that is never cut.
"""

from __future__ import annotations

import enum
from typing import Any

from typer.core import TyperArgument, TyperOption

# A parameter's name, and what to call its value when it is not the name in capitals.
METAVARS = {
    "env_file": "FILE",
    "timeout": "SECONDS",
    "tail": "N",
    "services": "SERVICE",
    "psql_args": "PSQL_ARG",
    "compress": "LEVEL",
    "end": "YYYY-MM-DD",
    "at": "INSTANT",
    "to": "REVISION",
    "output": "[table|json|env]",
}


def _name(param: Any) -> str:
    return METAVARS.get(param.name, (param.name or "value").upper())


def _choices(param: Any) -> list[str] | None:
    choices = getattr(getattr(param, "type_descriptor", None), "choices", None)
    if not choices:
        return None
    return [c.value if isinstance(c, enum.Enum) else str(c) for c in choices]


class HelpArgument(TyperArgument):
    """An argument shown as `SERIES` (required), `[SERIES]` (optional) or `[SERVICE]...`."""

    def _rich_display_name(self) -> str:
        return _name(self) + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = _name(self) if self.required else f"[{_name(self)}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        choices = _choices(self)
        if record is None or not choices:
            return record
        return record[0], f"{record[1]}  One of: {', '.join(choices)}."


def _option_metavar(option: Any) -> str | None:
    if option.is_flag or option.count or option.metavar is not None:
        return option.metavar
    choices = _choices(option)
    return f"[{'|'.join(choices)}]" if choices else _name(option)


def _summary(command: Any) -> str | None:
    """The help's first paragraph on one line: the command list shows it whole."""
    if command.short_help or not command.help:
        return command.short_help
    first = command.help.strip().split("\n\n")[0]
    return " ".join(first.split())


def tidy(command: Any) -> None:
    """Give every parameter and subcommand under `command` its metavar and summary."""
    for param in command.params:
        if isinstance(param, TyperArgument) and not isinstance(param, HelpArgument):
            param.__class__ = HelpArgument  # same fields; only the way it is shown changes
        elif isinstance(param, TyperOption):
            param.metavar = _option_metavar(param)
    for sub in (getattr(command, "commands", None) or {}).values():
        sub.short_help = _summary(sub)
        tidy(sub)
