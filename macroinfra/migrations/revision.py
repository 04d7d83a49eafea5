"""`migrate revision`: a new revision of the team's own, in MACROINFRA_MIGRATIONS_DIR, on top of
the team's head (the first one on top of the shipped head, labelled `team`)."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

from macroinfra.errors import ConfigError, MigrationError, UsageError, first_line
from macroinfra.migrations.plumbing import connect, run
from macroinfra.migrations.results import TEAM, NewRevision
from macroinfra.migrations.scripts import (
    TEAM_BRANCH,
    VARIABLE,
    config,
    heads,
    joined,
    origin,
    script,
    team_dir,
)

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from macroinfra.db import Database
    from macroinfra.settings import Settings

OPERATIONS = "macroinfra.operations"  # what autogenerate found, filled by migrations/env.py
MAX_MESSAGE = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\]|"""')


def check_message(message: str) -> str:
    text = message.strip()
    if not text:
        raise UsageError("the revision message is empty", hint="give -m 'what it changes'")
    if len(text) > MAX_MESSAGE:
        raise UsageError(
            f"the revision message is {len(text)} characters long",
            hint=f"keep it to one line of at most {MAX_MESSAGE}",
        )
    if _UNSAFE.search(text):
        raise UsageError(
            'the revision message holds a control character, a backslash or \'"""\'',
            hint="give one line of plain text",
        )
    return text


def _base(directory: ScriptDirectory) -> tuple[str, str | None]:
    """The head a new team revision goes on, and the branch label it gets (the first only)."""
    tops = heads(directory)
    team = [h for h in tops if origin(directory, h) == TEAM]
    if len(team) > 1:
        raise ConfigError(
            f"your migrations have {len(team)} heads ({', '.join(team)}): a new revision "
            "would not know which to follow",
            hint="join them: set one revision's down_revision to the other, or add a revision "
            f"with down_revision = {tuple(team)!r}",
        )
    if team:
        return team[0], None
    if len(tops) != 1:
        raise MigrationError(f"the shipped migrations have {len(tops)} heads")
    return tops[0], TEAM_BRANCH


def new_revision(
    settings: Settings, message: str, *, autogenerate: bool = False, db: Database | None = None
) -> NewRevision:
    """Write a revision into the team's folder; with `autogenerate` (needs `db`, at head), the
    operations that bring the database to the models. Nothing found: nothing written."""
    from alembic import command

    from macroinfra.migrations.apply import current_heads
    from macroinfra.models.team import declared

    text = check_message(message)
    folder = team_dir(settings)
    if folder is None:
        raise UsageError(
            f"{VARIABLE} is not set: there is no folder to write your revision into",
            hint=f"create a folder for your team's migrations and set {VARIABLE} to it",
        )
    schema = declared(settings)
    directory = script(settings)
    head, label = _base(directory)

    def write(cfg) -> list:  # type: ignore[no-untyped-def]
        def action():  # type: ignore[no-untyped-def]
            with redirect_stdout(io.StringIO()):  # Alembic's "Generating ..." line
                return command.revision(
                    cfg,
                    message=text,
                    autogenerate=autogenerate,
                    head=head,
                    branch_label=label,
                    version_path=str(folder),
                )

        try:
            made = run(action)
        except (OSError, SyntaxError) as exc:
            raise ConfigError(
                f"cannot write the revision into {folder}: {first_line(exc)}",
                hint=f"check that {VARIABLE} is a folder you can write to",
            ) from None
        return [made] if made is not None and not isinstance(made, list) else made or []

    if autogenerate:
        if db is None:
            raise UsageError("autogenerate needs a database")
        with connect(db) as conn:
            current = current_heads(conn, directory)
            tops = heads(directory)
            if current != tops:
                raise MigrationError(
                    f"the database is at {','.join(current) or 'no revision'}, head is "
                    f"{','.join(tops)}: autogenerate compares the models with a "
                    "database at head",
                    hint="run `macroinfra migrate` first",
                )
            cfg = config(settings, conn, schema=schema)
            made = write(cfg)
            conn.rollback()
    else:
        cfg = config(settings, schema=schema)
        made = write(cfg)
    operations = list(cfg.attributes.get(OPERATIONS, []))
    if not made:
        return NewRevision(False, None, None, text, None, None, autogenerate, [])
    written = made[0]
    return NewRevision(
        True,
        written.revision,
        joined(written.down_revision),
        text,
        str(Path(written.path)),
        label,
        autogenerate,
        operations,
    )
