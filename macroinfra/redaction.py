"""Secrets out of every output: the one scrubber used by doctor, Docker output, errors and logs.

A `Redactor` is made once from the settings (every SecretStr value and its URL-quoted form,
longest first) and applied to any text before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from macroinfra.settings import Settings

REDACTED = "***"
SECRET_MIN_LENGTH = 3  # shorter values would mask ordinary characters all over the output


class Redactor:
    """Replaces each of a fixed set of secret strings with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = [s for s in secrets if len(s) >= SECRET_MIN_LENGTH]
        values += [quote(v, safe="") for v in values]
        self.secrets = sorted(set(values), key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        from pydantic import SecretStr

        return cls(
            value.get_secret_value()
            for field in type(settings).model_fields
            if isinstance(value := getattr(settings, field), SecretStr)
        )

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """Strings inside dicts, lists and tuples redacted; other values as they are."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value
