"""Alembic environment for macroinfra.

macroinfra drives Alembic through its Python API and hands it a connection in
`config.attributes["connection"]`, so no URL (and no password) ever sits in an ini file.
Offline mode (`macroinfra migrate sql`) renders SQL for PostgreSQL without connecting.
The team's models (MACROINFRA_MODELS) extend the metadata autogenerate compares with, and
their declared hypertables get macroinfra's own TimescaleDB operations.
"""

from alembic import context

from macroinfra.migrations import autogenerate_filters
from macroinfra.models import Base
from macroinfra.models.team import declared
from macroinfra.timescale import autogen  # registers the hypertable comparison
from macroinfra.timescale.drift import describe_diffs

config = context.config
# The declared tables: as the command read them already, else read here.
DECLARED = config.attributes.get("macroinfra.declared") or declared(
    config.attributes.get("macroinfra.settings")
)
include_name, include_object = autogenerate_filters(DECLARED.hypertables, DECLARED.models)
# Both modes: the models to compare with, and one transaction around the DDL.
COMMON = {"target_metadata": Base.metadata, "transactional_ddl": True}


def process_revision_directives(_context, _revision, directives) -> None:
    """Autogenerate: write nothing when nothing differs; leave out of the downgrade what
    needs no step of its own (a hypertable goes with its table); record what was found."""
    script = directives[0]
    if script.upgrade_ops.is_empty():
        directives[:] = []
        return
    autogen.tidy(script)
    config.attributes["macroinfra.operations"] = describe_diffs(script.upgrade_ops.as_diffs())


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
        process_revision_directives=process_revision_directives,
        **COMMON,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
