"""The per-invocation application object, built in the root callback and kept in ctx.obj.

Heavy parts (settings, database, cache) are created on first use, so `--help` touches nothing;
whatever was opened is closed once, when the command ends.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from macroinfra.db import Database
    from macroinfra.settings import Settings


class Invocation:
    def __init__(self, env_file: Path | None) -> None:
        self.env_file = env_file
        self.json_output = False  # set by --json (and `-o json`): failures print JSON too

    @cached_property
    def settings(self) -> Settings:
        from macroinfra.settings import load_settings

        return load_settings(self.env_file)

    @cached_property
    def db(self) -> Database:
        from macroinfra.db import Database

        return Database(self.settings)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def get_app(ctx: typer.Context) -> Invocation:
    """The Invocation the root callback made for this invocation."""
    return ctx.find_root().obj
