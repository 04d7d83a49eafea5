"""The engine layer: SQLAlchemy engines over psycopg 3 and the Redis client, on real servers."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from macroinfra.cache import Cache
from macroinfra.db import Database


def test_nothing_connects_until_first_use(stack_settings):
    import select
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        settings = stack_settings.model_copy(update={"postgres_port": port, "redis_port": port})
        db, cache = Database(settings), Cache(settings)
        db.engine, db.async_engine, db.session_factory  # noqa: B018 - built, not used
        readable, _, _ = select.select([listener], [], [], 0.2)
        assert readable == []  # no connection attempt reached the port
        db.dispose()
        cache.close()


def test_sync_engine_pool_and_session_rules(migrated):
    db = Database(migrated)
    try:
        assert db.engine.pool.size() == 5
        assert db.engine.dialect.driver == "psycopg"
        with db.session() as session:
            assert session.autoflush is False and session.expire_on_commit is False
            session.execute(text("INSERT INTO data_sources (name) VALUES ('FRED')"))
        with pytest.raises(RuntimeError), db.session() as session:
            session.execute(text("INSERT INTO data_sources (name) VALUES ('ECB')"))
            raise RuntimeError("boom")
        with db.session() as session:
            names = session.execute(text("SELECT name FROM data_sources")).scalars().all()
        assert names == ["FRED"]  # committed on success, rolled back on error
    finally:
        db.dispose()
    assert "engine" not in db.__dict__


def test_async_engine_and_session_dependency_rolls_back_on_error(migrated):
    db = Database(migrated)

    async def scenario() -> list[str]:
        assert db.async_engine.pool.size() == 20
        assert db.async_engine.pool._max_overflow == 10
        assert db.async_engine.dialect.driver == "psycopg"
        dependency = db.async_session()
        session = await anext(dependency)
        await session.execute(text("INSERT INTO data_sources (name) VALUES ('BOJ')"))
        with pytest.raises(ValueError):
            await dependency.athrow(ValueError("request failed"))
        async with db.async_session_factory() as check:
            rows = (await check.execute(text("SELECT name FROM data_sources"))).scalars().all()
        await db.adispose()
        return list(rows)

    assert asyncio.run(scenario()) == []
    assert "async_engine" not in db.__dict__


def test_redis_client_pool_and_close(stack_settings):
    cache = Cache(stack_settings)
    client = cache.client()
    assert cache.client() is client
    pool = client.connection_pool
    assert pool.max_connections == 50
    client.set("macroinfra:test", "value")
    assert client.get("macroinfra:test") == "value"  # decode_responses: str, not bytes
    client.delete("macroinfra:test")
    cache.close()
    assert cache._client is None and cache._pool is None
    assert cache.client() is not client  # a new client after close
    cache.close()


def test_a_database_that_is_not_utf8_is_migrated_seeded_and_read(sql_ascii):
    """Against a SQL_ASCII database psycopg returns bytes unless the client asks for UTF8, and
    SQLAlchemy's version check failed on them (`cannot use a string pattern on a bytes-like
    object`)."""
    import json

    from helpers import Cli

    cli = Cli(sql_ascii)
    migrated = cli("migrate", "--json")
    assert migrated.exit_code == 0, migrated.output
    assert json.loads(migrated.stdout)["after"] is not None
    args = ("--years", "1", "--instruments", "1", "--end", "2024-06-30")
    seeded = cli("seed", "demo", *args)
    assert seeded.exit_code == 0, seeded.output
    latest = cli("data", "latest", "US_CPI", "--json")
    assert latest.exit_code == 0, latest.output
    view = json.loads(latest.stdout)
    assert view["series"]["unit"] == "index 1982-84=100" and view["observations"]
