"""redis-py client on its own ConnectionPool: `client()` creates it on first use, `close()`
releases the pool."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from macroinfra.settings import Settings

SOCKET_TIMEOUT_S = 5.0


class Cache:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: redis.ConnectionPool | None = None
        self._client: redis.Redis | None = None

    def client(self) -> redis.Redis:
        if self._client is None:
            import redis

            from macroinfra.connections.redis import pool_kwargs

            self._pool = redis.ConnectionPool(
                **pool_kwargs(self.settings),
                max_connections=self.settings.redis_max_connections,
                decode_responses=True,
                socket_connect_timeout=SOCKET_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
            )
            # connection_pool= (not from_pool) so closing the client leaves pool ownership here.
            self._client = redis.Redis(connection_pool=self._pool)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._pool is not None:
            self._pool.disconnect()
            self._pool = None
