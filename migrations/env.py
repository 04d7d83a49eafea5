"""Alembic environment for macroinfra.

macroinfra drives Alembic through its Python API and hands it a connection in
`config.attributes["connection"]`, so no URL (and no password) ever sits in an ini file.
Offline mode (`macroinfra migrate sql`) renders SQL for PostgreSQL without connecting.
"""

from alembic import context

from macroinfra.migrations import autogenerate_filters
from macroinfra.models import Base

config = context.config
include_name, include_object = autogenerate_filters()
# Both modes: the models to compare with, and one transaction around the DDL.
COMMON = {"target_metadata": Base.metadata, "transactional_ddl": True}


def run_migrations_offline() -> None:
    context.configure(
        dialect_name="postgresql", literal_binds=True, output_buffer=config.output_buffer, **COMMON
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through `macroinfra migrate`, which supplies the connection"
        )
    context.configure(
        connection=connection,
        include_name=include_name,
        include_object=include_object,
        compare_type=True,
        **COMMON,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
