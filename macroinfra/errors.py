"""The one exception family. The CLI maps it to a message and an exit code in one place."""

from __future__ import annotations


class MacroinfraError(Exception):
    """An expected failure: one line saying what is wrong, and a hint saying what to do."""

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = problems or []  # one line each, printed under the message

    def __str__(self) -> str:
        return self.message


class ConfigError(MacroinfraError):
    """Bad configuration or usage: exit code 2."""

    exit_code = 2


class UsageError(ConfigError):
    """A command was called with arguments it cannot act on: exit code 2."""


class OperationError(MacroinfraError):
    """An operation was attempted and failed: exit code 1."""


class ServiceUnavailable(OperationError):
    """A service did not answer, refused the credentials, or is not installed."""


class MigrationError(OperationError):
    """A migration could not be applied or the database is at an unknown revision."""


class NotFound(OperationError):
    """A named thing (table, service) does not exist."""


class ServiceUnhealthy(ServiceUnavailable):
    """A started service did not become ready: `problems` holds its last healthcheck output and
    log lines."""
