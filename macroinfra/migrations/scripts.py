"""Alembic's script folder: the shipped revisions, and the team's own (MACROINFRA_MIGRATIONS_DIR)
as their own branch on top of the shipped head.

No alembic.ini: the connection is handed to Alembic in `Config.attributes`, so a `%` in a
password is just a character.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from macroinfra.errors import ConfigError, UsageError, first_line
from macroinfra.migrations.results import SHIPPED, TEAM, History, Revision
from macroinfra.resources import migrations_dir
from macroinfra.timescale.notes import NOTES

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Connection

    from macroinfra.settings import Settings
    from macroinfra.timescale.spec import Declared

TEAM_BRANCH = "team"  # the branch label of the team's first revision
SETTINGS = "macroinfra.settings"
DECLARED = "macroinfra.declared"  # the declared tables, when the caller has read them already
VARIABLE = "MACROINFRA_MIGRATIONS_DIR"


def team_dir(settings: Settings | None) -> Path | None:
    """The team's migrations folder, checked (ConfigError, exit 2: missing, or not a folder)."""
    path = settings.migrations_dir if settings is not None else None
    if path is None:
        return None
    path = path.expanduser().absolute()
    if not path.exists():
        raise ConfigError(
            f"{VARIABLE} {path} does not exist",
            hint=f"create it (mkdir -p '{path}') or unset {VARIABLE}",
        )
    if not path.is_dir():
        raise ConfigError(
            f"{VARIABLE} {path} is not a folder",
            hint=f"point {VARIABLE} at the folder that holds your migrations",
        )
    if path.resolve() == (migrations_dir() / "versions").resolve():
        raise ConfigError(
            f"{VARIABLE} {path} is macroinfra's own migrations folder",
            hint="give your team's revisions a folder of their own",
        )
    if os.pathsep in str(path):
        raise ConfigError(
            f"{VARIABLE} {path} contains {os.pathsep!r}", hint="move it to a path without one"
        )
    return path


def config(
    settings: Settings | None,
    connection: Connection | None = None,
    output: io.StringIO | None = None,
    schema: Declared | None = None,
) -> Config:
    from alembic.config import Config

    def escape(path: Path) -> str:
        return str(path).replace("%", "%%")

    cfg = Config(output_buffer=output, stdout=output or io.StringIO())
    cfg.set_main_option("script_location", escape(migrations_dir()))
    locations = [migrations_dir() / "versions"]
    if (team := team_dir(settings)) is not None:
        locations.append(team)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(escape(p) for p in locations))
    cfg.attributes["connection"] = connection
    cfg.attributes[NOTES] = []
    cfg.attributes[SETTINGS] = settings
    cfg.attributes[DECLARED] = schema
    return cfg


def script(settings: Settings | None) -> ScriptDirectory:
    """The script folder with every revision read (ConfigError: a team file that is broken)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    directory = ScriptDirectory.from_config(config(settings))
    try:
        directory.revision_map.heads  # noqa: B018 (reads every revision file)
    except (CommandError, Exception) as exc:
        where = team_dir(settings)
        raise ConfigError(
            f"cannot read the migrations: {first_line(exc)}",
            hint=f"fix the revision file in {where}" if where else "reinstall macroinfra",
        ) from None
    return directory


def origin(directory: ScriptDirectory, revision: str) -> str:
    found = directory.get_revision(revision)
    shipped = (migrations_dir() / "versions").resolve()
    path = Path(found.path).resolve() if found is not None and found.path else None
    return SHIPPED if path is None or path.parent == shipped else TEAM


def describe(directory: ScriptDirectory, found: Script, heads: set[str]) -> Revision:
    return Revision(
        found.revision,
        joined(found.down_revision),
        (found.doc or "").strip(),
        found.revision in heads,
        origin(directory, found.revision),
    )


def joined(value: Any) -> str | None:
    if isinstance(value, tuple | list):
        return ",".join(sorted(value)) if value else None
    return value


def heads(directory: ScriptDirectory) -> tuple[str, ...]:
    return tuple(sorted(directory.get_heads()))


def head_revision(settings: Settings | None = None) -> str:
    """The head (several, joined with ","): the shipped one, or the team's on top of it."""
    found = heads(script(settings))
    assert found, "no migration scripts found"
    return ",".join(found)


def history(settings: Settings | None = None) -> History:
    directory = script(settings)
    tops = set(directory.get_heads())
    return History([describe(directory, r, tops) for r in directory.walk_revisions()])


def ancestors(directory: ScriptDirectory, tops: tuple[str, ...]) -> list[str]:
    """`tops` and every revision below them, newest first."""
    if not tops:
        return []
    return [r.revision for r in directory.iterate_revisions(tops, "base")]


def resolve(directory: ScriptDirectory, revision: str) -> str | None:
    """A revision id, prefix or branch label, as its full id (None: not known)."""
    from alembic.util import CommandError

    try:
        found = directory.get_revision(revision)
    except CommandError:
        return None
    return found.revision if found is not None else None


def check_target(revision: str, settings: Settings | None = None) -> ScriptDirectory | None:
    """Refuse a revision this macroinfra does not know, before anything asks or connects.

    Returns the script folder read to look a named revision up, for the caller to use again
    (None: a revision such as head, base or -1 needs none to check)."""
    if not revision.strip():
        raise UsageError(
            "no revision given: --to is empty",
            hint="give base, head, -1 (one down) or a revision of `macroinfra migrate history`",
        )
    if revision in {"head", "heads", "base"} or revision.lstrip("-+").isdigit():
        return None
    directory = script(settings)
    if resolve(directory, revision) is None:
        hint = "see `macroinfra migrate history`"
        if settings is None or settings.migrations_dir is None:
            hint += f"; a revision of your own needs {VARIABLE}"
        raise UsageError(f"unknown revision {revision!r}", hint=hint)
    return directory
