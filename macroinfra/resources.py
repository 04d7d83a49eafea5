"""Files that ship beside the code: Alembic's script folder and the compose file.

In a wheel they are inside the package (`_resources/`); in a source checkout they are at the top
of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    packaged = _PACKAGE / "_resources" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


def migrations_dir() -> Path:
    return resource_path("migrations")


def compose_dir() -> Path:
    return resource_path("compose")
