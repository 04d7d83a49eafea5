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
        from macroinfra.cli import render
        from macroinfra.settings import load_settings

        settings = load_settings(self.env_file)
        for warning in settings.warnings:
            render.warn(warning)
        return settings

    @property
    def loaded_settings(self) -> Settings | None:
        """The settings if this invocation has read them (None: not yet)."""
        return self.__dict__.get("settings")

    def env_file_note(self) -> str | None:
        """Which .env the settings came from, or that none was found (None: not loaded)."""
        if self.loaded_settings is None:
            return None
        if (path := self.settings.env_file) is not None:
            return f"settings read from {path}"
        from pathlib import Path

        return f"no .env found in {Path.cwd()}: only the environment and the defaults apply"

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
