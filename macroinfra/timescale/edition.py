"""Which TimescaleDB edition a server runs: read from the server, never guessed from an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APACHE = "apache"
COMMUNITY = "timescale"

APACHE_REASON = (
    "the server runs the Apache edition of TimescaleDB (timescaledb.license = 'apache'), "
    "which has no compression"
)
APACHE_FIX = (
    "use the Community edition (the timescale/timescaledb image, or Timescale's own packages), "
    "then run `macroinfra migrate` to apply compression"
)


@dataclass(frozen=True)
class Edition:
    license: str | None  # "apache", "timescale", or None when the extension is not loaded
    extension_version: str | None

    @property
    def supports_compression(self) -> bool:
        return self.license == COMMUNITY

    @property
    def label(self) -> str:
        if self.license == COMMUNITY:
            return "Community"
        if self.license == APACHE:
            return "Apache"
        return "unknown"


def detect_edition(connection: Any) -> Edition:
    """Read the license and the installed extension version over a SQLAlchemy connection."""
    from sqlalchemy import text

    row = connection.execute(
        text(
            "SELECT current_setting('timescaledb.license', true),"
            " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
        )
    ).one()
    return Edition(license=row[0] or None, extension_version=row[1])
