"""What a migration says to whoever runs it: collected by `macroinfra migrate` (and shown as
warnings), else logged."""

from __future__ import annotations

import logging
from typing import Any

NOTES = "macroinfra.notes"
log = logging.getLogger("macroinfra.migrations")


def note(message: str, context: Any = None) -> None:
    """Say `message` through the migration context (`context`, else Alembic's current one)."""
    if context is None:
        from alembic import op

        context = op.get_context()
    config = context.config
    notes = config.attributes.get(NOTES) if config is not None else None
    if notes is None:
        log.warning(message)
    elif message not in notes:
        notes.append(message)
