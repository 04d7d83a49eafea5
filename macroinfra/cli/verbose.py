"""`--verbose`: the library's log records on stderr, secrets hidden.

The library only calls `logging.getLogger(__name__)` (records under `macroinfra`); SQLAlchemy
logs each SQL statement under `sqlalchemy.engine`, python-on-whales each Docker command under
`python_on_whales`. Only the CLI attaches a handler, for one invocation, and removes it after.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from macroinfra.redaction import Redactor

# Each logger, and the level at which it says what it runs.
LOGGERS = {
    "macroinfra": logging.DEBUG,
    "sqlalchemy.engine": logging.INFO,
    "python_on_whales": logging.DEBUG,
}


class RedactingFilter(logging.Filter):
    """Formats each record and replaces every secret of the settings with ***. The settings
    are read once they are loaded (nothing logs a secret before that)."""

    def __init__(self, settings: Callable[[], Any]) -> None:
        super().__init__()
        self._settings = settings
        self._redactor: Redactor | None = None

    def redactor(self) -> Redactor:
        if self._redactor is not None:
            return self._redactor
        settings = self._settings()
        if settings is None:
            return Redactor()
        self._redactor = Redactor.for_settings(settings)
        return self._redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor()(record.getMessage())
        record.args = None
        return True


def enable(settings: Callable[[], Any]) -> Callable[[], None]:
    """Send the records of LOGGERS to stderr, secrets hidden; returns the undo."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(settings))
    before = {}
    for name, level in LOGGERS.items():
        logger = logging.getLogger(name)
        before[name] = logger.level
        logger.setLevel(level)
        logger.addHandler(handler)

    def undo() -> None:
        for name, level in before.items():
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(level)

    return undo
