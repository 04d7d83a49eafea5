"""Which TimescaleDB edition a server runs: read from the server, never guessed from an error.

`read_server` is the one reader of the edition (the license and the extension version), with
the other server facts its callers want in the same round trip. The probe, the migration, the
compression step, `schema show` and the demo data all ask it. It takes a psycopg connection
or a SQLAlchemy one, and imports neither, so `doctor` reads the edition without SQLAlchemy.
"""

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

# pg_available_extensions reads the extension folder: only asked when the extension is absent.
SERVER_SQL = """
SELECT current_database(),
       current_setting('server_version'),
       current_setting('server_encoding'),
       e.extversion,
       current_setting('timescaledb.license', true),
       CASE WHEN e.extversion IS NOT NULL THEN true
            ELSE EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       END
FROM (SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')
      AS extversion) e
"""


@dataclass(frozen=True)
class ServerInfo:
    database: str
    server_version: str
    extension_version: str | None  # None: the timescaledb extension is not in this database
    license: str | None  # "apache", "timescale", or None when the extension is not loaded
    extension_available: bool = True  # False: TimescaleDB is not installed on the server
    encoding: str = "UTF8"  # the database's (server_encoding)
    __json_properties__ = ("edition", "supports_compression")

    @property
    def edition(self) -> str:
        if self.license == COMMUNITY:
            return "Community"
        if self.license == APACHE:
            return "Apache"
        return "unknown"

    @property
    def supports_compression(self) -> bool:
        return self.license == COMMUNITY

    @property
    def is_utf8(self) -> bool:
        return self.encoding.upper() in {"UTF8", "UTF-8", "UNICODE"}


def read_server(connection: Any) -> ServerInfo:
    """The server's edition and versions, over a psycopg or a SQLAlchemy connection."""
    if hasattr(connection, "exec_driver_sql"):  # SQLAlchemy: its events see the statement
        row = connection.exec_driver_sql(SERVER_SQL).one()
    else:
        row = connection.execute(SERVER_SQL).fetchone()
    database, version, encoding, extension, license_, available = map(_text, row)
    return ServerInfo(
        database, version, extension, license_ or None, bool(available), encoding or "UTF8"
    )


def _text(value: Any) -> Any:
    """Text as str, also from a connection whose client encoding is SQL_ASCII (psycopg then
    returns bytes): these settings and names are ASCII in practice, anything else replaced."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
