"""What dump and restore read from the server: its versions, TimescaleDB's, macroinfra's
migration revision, and the user's tables with their row counts.

"The user's tables" are the ordinary and partitioned tables outside PostgreSQL's and
TimescaleDB's own schemas that no extension owns; a hypertable counts as one table (its chunks
live in TimescaleDB's schema), and a partition is counted in its parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from macroinfra.settings import Settings

USER_TABLES_SQL = r"""
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('information_schema', 'timescaledb_information',
                        'timescaledb_experimental', 'toolkit_experimental')
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname NOT LIKE '\_timescaledb\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
ORDER BY n.nspname = 'public' DESC, n.nspname, c.relname
"""

# Schemas a restore replaces: every schema but PostgreSQL's own and those an extension owns
# (TimescaleDB's go with the extension).
USER_SCHEMAS_SQL = r"""
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                    AND d.deptype = 'e')
ORDER BY n.nspname
"""

VERSIONS_SQL = """
SELECT current_setting('server_version'),
       current_setting('server_version_num')::int / 10000,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
       (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),
       ARRAY(SELECT version FROM pg_available_extension_versions
             WHERE name = 'timescaledb' ORDER BY version)
"""


@dataclass(frozen=True)
class TableRows:
    schema: str
    name: str
    rows: int

    @property
    def label(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Server:
    version: str  # "15.20 (Debian ...)"
    major: int
    timescaledb: str | None  # the extension's version in this database (None: not created)
    timescaledb_default: str | None  # the version CREATE EXTENSION installs (None: none)
    timescaledb_available: tuple[str, ...]  # versions this server can create


def connect(settings: Settings, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A psycopg connection to the configured database, its text read as str whatever the
    database's encoding; a failure is one line."""
    import psycopg

    from macroinfra.connections.postgres import connect_kwargs
    from macroinfra.db import Database, connection_error

    try:
        # These win over DATABASE_URL's own connect_timeout (Database builds no engine here).
        database = Database(settings, application_name="macroinfra")
        return psycopg.connect(
            **connect_kwargs(settings, **database.connect_args), autocommit=autocommit
        )
    except psycopg.OperationalError as exc:
        raise connection_error(
            exc,
            settings.postgres_host,
            settings.postgres_port,
            settings.postgres_user,
            settings.postgres_db,
        ) from None


def read_versions(conn: psycopg.Connection[Any]) -> Server:
    row = conn.execute(VERSIONS_SQL).fetchone()
    assert row is not None
    version, major, installed, default, available = row
    return Server(version.split()[0], major, installed, default, tuple(available))


def user_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return [(schema, name) for schema, name in conn.execute(USER_TABLES_SQL).fetchall()]


def user_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    return [name for (name,) in conn.execute(USER_SCHEMAS_SQL).fetchall()]


def count_rows(conn: psycopg.Connection[Any], tables: list[tuple[str, str]]) -> list[TableRows]:
    """Exact row counts, in one round trip."""
    if not tables:
        return []
    from psycopg import sql

    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(
            sql.Literal(position), sql.Identifier(schema, name)
        )
        for position, (schema, name) in enumerate(tables)
    )
    counts = dict(conn.execute(query).fetchall())
    return [TableRows(s, n, counts[i]) for i, (s, n) in enumerate(tables)]


def revision(conn: psycopg.Connection[Any]) -> str | None:
    """macroinfra's migration revision (Alembic's version table), None when never migrated."""
    (found,) = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone() or (
        False,
    )
    if not found:
        return None
    rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
    return ",".join(r[0] for r in rows) or None
