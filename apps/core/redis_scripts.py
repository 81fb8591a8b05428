"""A Lua script for the request path, run on a few connections of its own.

redis-py's registered script goes through the client's pool checkout (a lock and a readability probe of the
socket), its retry wrapper, an argument encoder per argument and its response callbacks: about 110 µs of the
event loop per call under load, against about 35 µs for the same EVALSHA packed by hiredis and written to a
connection taken from a queue (scripts/bench/bench_baseline.py measures the request; docs/performance.md).
Where there is no Redis server (the embedded default's fakeredis) the registered script runs instead.
"""

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from typing import Any

import hiredis
from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.core.redis import async_redis

MAX_CONNECTIONS = 64  # per event loop; beyond it a call waits for a connection to come back
ACQUIRE_TIMEOUT = 5  # seconds, as for the shared pool: then the request fails with 50300


class _Connections:
    """The idle connections of one event loop, opened on demand up to MAX_CONNECTIONS."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.idle: asyncio.Queue[AbstractConnection] = asyncio.Queue()
        self.opened = 0

    async def take(self) -> AbstractConnection:
        if not self.idle.empty():
            return self.idle.get_nowait()
        if self.opened < MAX_CONNECTIONS:
            self.opened += 1
            connection: AbstractConnection = self.pool.connection_class(**self.pool.connection_kwargs)
            return connection  # it connects on its first command
        async with asyncio.timeout(ACQUIRE_TIMEOUT):
            return await self.idle.get()

    def give_back(self, connection: AbstractConnection) -> None:
        self.idle.put_nowait(connection)


class RequestPathScript:
    """`await script(keys, args)`: EVALSHA, and EVAL when Redis answers NOSCRIPT (a restart, a SCRIPT FLUSH).

    A connection whose command did not finish (an error, a cancelled request) is closed before it goes back,
    so no reply is ever read by the wrong call. A connection Redis dropped is retried once on a fresh one.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Redis, _Connections | AsyncScript]
        ] = weakref.WeakKeyDictionary()

    def _runner(self) -> _Connections | AsyncScript:
        """This loop's connections, or (no REDIS_URL: async_redis() is fakeredis) the client's registered script."""
        loop = asyncio.get_running_loop()
        client = async_redis()
        known = self._per_loop.get(loop)
        if known is None or known[0] is not client:
            runner = _Connections(client.connection_pool) if settings.REDIS_URL else client.register_script(self.source)
            known = (client, runner)
            self._per_loop[loop] = known
        return known[1]

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        connections = self._runner()
        if not isinstance(connections, _Connections):
            return await connections(keys=list(keys), args=list(args))
        # (hiredis' stub types the command as a one-element tuple)
        evalsha = hiredis.pack_command(("EVALSHA", self.sha, len(keys), *keys, *args))  # type: ignore[arg-type]
        try:
            return await self._run(connections, evalsha, keys, args)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return await self._run(connections, evalsha, keys, args)  # once: the connection may have gone stale

    async def _run(
        self, connections: _Connections, evalsha: bytes, keys: Sequence[str], args: Sequence[str | int]
    ) -> Any:
        connection = await connections.take()
        finished = False
        try:
            try:
                await connection.send_packed_command(evalsha, check_health=False)
                reply = await connection.read_response()
            except NoScriptError:
                command = hiredis.pack_command(("EVAL", self.source, len(keys), *keys, *args))  # type: ignore[arg-type]
                await connection.send_packed_command(command, check_health=False)
                reply = await connection.read_response()
            finished = True
            return reply
        finally:
            if not finished:
                await connection.disconnect(nowait=True)
            connections.give_back(connection)
