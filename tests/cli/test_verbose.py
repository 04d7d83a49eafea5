"""--verbose: steps, SQL and programs run on stderr, never a secret; exclusive with --quiet."""

from __future__ import annotations

import logging

import pytest
from helpers import Cli, own_local_stack
from pydantic import SecretStr

from macroinfra.cli import verbose

SECRET = "Vq8-distinctive-Secret"


@pytest.fixture
def secret_user(database):
    """The test database, reached as a role of its own with a distinctive password."""
    from psycopg import sql

    role = f"verbose_{database.postgres_db[-12:]}"
    import psycopg

    with psycopg.connect(database.libpq_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(SECRET)
            )
        )
    try:
        yield database.model_copy(
            update={"postgres_user": role, "postgres_password": SecretStr(SECRET)}
        )
    finally:
        with psycopg.connect(database.libpq_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_verbose_shows_the_sql_and_never_the_password(secret_user):
    result = Cli(secret_user)("--verbose", "schema", "show", "--json")
    assert result.exit_code == 0, result.output
    assert "sqlalchemy.engine.Engine: " in result.stderr
    assert "FROM pg_class c JOIN pg_namespace n" in result.stderr  # the catalog query itself
    assert SECRET not in result.stderr + result.stdout
    assert "sqlalchemy" not in result.stdout  # stdout stays the one JSON document


def test_without_verbose_no_sql_is_shown(secret_user):
    result = Cli(secret_user)("schema", "show", "--json")
    assert result.exit_code == 0 and "sqlalchemy" not in result.stderr


def test_a_record_holding_a_secret_is_shown_redacted(secret_user, capsys):
    """Whatever a library record carries, the handler --verbose installs hides the secrets."""
    undo = verbose.enable(lambda: secret_user)
    try:
        logging.getLogger("macroinfra.runtime.local.postgres").debug(
            "running psql %s", secret_user.libpq_url
        )
    finally:
        undo()
    err = capsys.readouterr().err
    assert "macroinfra.runtime.local.postgres: running psql " in err
    assert SECRET not in err and "***" in err
    # Undone: the next record goes nowhere.
    logging.getLogger("macroinfra.x").debug("after %s", SECRET)
    assert capsys.readouterr().err == ""


def test_verbose_opens_the_loggers_of_the_runtimes_and_sql_and_closes_them_after():
    logger = logging.getLogger("macroinfra.runtime.local.postgres")
    undo = verbose.enable(lambda: None)
    try:
        assert logger.isEnabledFor(logging.DEBUG)
        assert logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)
        assert logging.getLogger("python_on_whales").isEnabledFor(logging.DEBUG)
    finally:
        undo()
    assert not logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)


@pytest.mark.parametrize("flags", [["-q", "-v"], ["--verbose", "--quiet"]])
def test_quiet_and_verbose_together_is_a_usage_error(cli, flags):
    result = cli(*flags, "config", "show")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --quiet and --verbose exclude each other")
    assert result.stdout == ""


def test_verbose_up_shows_the_programs_the_local_runtime_runs(tmp_path):
    """A stack of its own, started for real: initdb, pg_ctl and redis-server are named on
    stderr, each step is a line, and neither password appears anywhere."""
    with own_local_stack(postgres_password=SECRET, redis_password=SECRET + "-redis") as settings:
        result = Cli(settings)("-v", "up", "--json")
        assert result.exit_code == 0, result.output
        logged = result.stderr
        assert "macroinfra.runtime.local.postgres: running initdb " in logged
        assert "macroinfra.runtime.local.postgres: running pg_ctl " in logged
        assert "macroinfra.runtime.local.redis: running " in logged
        assert SECRET not in logged + result.stdout
