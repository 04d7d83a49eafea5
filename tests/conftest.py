"""Real services for the tests: PostgreSQL + TimescaleDB and Redis, started once per session by
macroinfra's own local runtime on free ports on 127.0.0.1, in a temporary state folder; and the
session's one set of test certificates (tests/tls/certs.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SETTINGS_VARIABLES, Cli, make_state_dir, own_local_stack, scratch_database
from tls.certs import CertSet, make_certs

from macroinfra.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in SETTINGS_VARIABLES:
            mp.delenv(name, raising=False)
        mp.setenv("NO_COLOR", "1")
        mp.setenv("COLUMNS", "200")
        # A working folder of our own, so a .env in the checkout is not read.
        cwd = tempfile.mkdtemp(prefix="macroinfra-cwd-")
        mp.chdir(cwd)
        # And a state folder of our own: no test writes to the machine's default one.
        state = make_state_dir()
        mp.setenv("MACROINFRA_STATE_DIR", str(state))
        yield
    shutil.rmtree(cwd, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    """Settings of a running local stack (PostgreSQL + TimescaleDB, Redis) for the session."""
    with own_local_stack(
        start=True, postgres_password="pg%pass word'\"", redis_password="redis%pass"
    ) as settings:
        yield settings


@pytest.fixture(scope="session")
def tls_certs() -> Iterator[CertSet]:
    """The test certificates (a CA, server certificates good and bad, a client certificate, a
    CA that signed none of them), made once for every TLS test of the session."""
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-certs-", dir="/tmp"))
    try:
        yield make_certs(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(stack_settings: Settings) -> Iterator[Settings]:
    """Settings pointing at a new, empty database of its own (dropped afterwards)."""
    with scratch_database(stack_settings) as settings:
        yield settings


@pytest.fixture
def migrated(database: Settings) -> Settings:
    """A database of its own, migrated to head."""
    from macroinfra import migrations
    from macroinfra.db import Database

    db = Database(database)
    try:
        migrations.upgrade(db)
    finally:
        db.dispose()
    return database


@pytest.fixture
def cli() -> Cli:
    """The CLI with default settings (no services behind them)."""
    return Cli(None)


@pytest.fixture
def stack_cli(stack_settings: Settings) -> Cli:
    return Cli(stack_settings)


@pytest.fixture
def db_cli(database: Settings) -> Cli:
    return Cli(database)


@pytest.fixture
def sql_ascii(stack_settings):
    """A database of its own encoded SQL_ASCII (psycopg hands back bytes for its text unless
    the client asks for UTF8)."""
    options = "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    with scratch_database(stack_settings, "test_ascii", options) as settings:
        yield settings
