"""The local runtime: one class per server process (`LocalServer` and its subclasses), and
`LocalRuntime`, which runs a list of them."""

from macroinfra.runtime.local.binaries import find_pg_bindir
from macroinfra.runtime.local.postgres import PostgresServer
from macroinfra.runtime.local.redis import RedisServer
from macroinfra.runtime.local.runtime import SERVERS, LocalRuntime
from macroinfra.runtime.local.server import LocalServer

__all__ = [
    "SERVERS",
    "LocalRuntime",
    "LocalServer",
    "PostgresServer",
    "RedisServer",
    "find_pg_bindir",
]
