"""A Lua script for the request path, run on a few connections of its own.

redis-py's registered script goes through the client's pool checkout (a lock and a readability probe of the
socket), its retry wrapper, an argument encoder per argument and its response callbacks; even a bare
connection reads each reply through a stream reader and a timeout scope. Here redis-py opens the connection
(address, TLS, AUTH, SELECT: every option of REDIS_URL), then the socket is handed to a small protocol: the
EVALSHA packed by hiredis is written straight to the transport and the reply, parsed by hiredis, resolves a
future (scripts/bench/bench_baseline.py measures the request; docs/performance.md). Where there is no Redis
server (the embedded default's fakeredis) the registered script runs instead.
"""

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from typing import Any

import hiredis
from django.conf import settings
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.core.redis import async_redis

MAX_CONNECTIONS = 64  # per event loop; beyond it a call waits for a connection to come back
ACQUIRE_TIMEOUT = 5  # seconds, as for the shared pool: then the request fails with 50300


class _Wire(asyncio.Protocol):
    """One connection after redis-py's handshake: one command at a time, its reply handed to the waiting call."""

    def __init__(self, connection: AbstractConnection) -> None:
        # Kept for the wire's lifetime: redis-py closes the socket of a Connection it collects.
        self.connection = connection
        self.transport: asyncio.Transport = connection._writer.transport  # type: ignore[union-attr,assignment]
        encoder = connection.encoder  # replies decoded as the client's own (decode_responses, encoding)
        decoding = {"encoding": encoder.encoding, "errors": encoder.encoding_errors} if encoder.decode_responses else {}
        self.reader = hiredis.Reader(**decoding)
        self.waiter: asyncio.Future[Any] | None = None
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        reply = self.reader.gets()
        if reply is False:
            return  # the rest of the reply is still on its way
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():  # nobody asked (or the asker left): the stream is out of step
            self.close()
        else:
            waiter.set_result(reply)

    def close(self) -> None:
        self.lost = True
        self.connection._close()  # the transport, and redis-py's record of it (no "unclosed" warning later)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(RedisConnectionError("Connection closed by server."))

    async def command(self, packed: bytes) -> Any:
        """The reply of one packed command; an error reply raises what redis-py would (NOSCRIPT: NoScriptError)."""
        if self.lost:
            raise RedisConnectionError("Connection closed by server.")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(packed)
        reply = await self.waiter
        if isinstance(reply, hiredis.ReplyError):
            raise BaseParser.parse_error(str(reply))
        return reply


class _Connections:
    """The idle connections of one event loop, opened on demand up to MAX_CONNECTIONS."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.idle: asyncio.Queue[_Wire] = asyncio.Queue()
        self.opened = 0

    async def take(self) -> _Wire:
        while not self.idle.empty():
            wire = self.idle.get_nowait()
            if not wire.lost:
                return wire
            self._drop(wire)  # Redis closed it while it was idle
        if self.opened < MAX_CONNECTIONS:
            self.opened += 1
            try:
                return await self._open()
            except BaseException:
                self.opened -= 1
                raise
        async with asyncio.timeout(ACQUIRE_TIMEOUT):
            return await self.idle.get()

    async def _open(self) -> _Wire:
        connection = self.pool.connection_class(**self.pool.connection_kwargs)
        await connection.connect()
        wire = _Wire(connection)
        wire.transport.set_protocol(wire)  # from here on redis-py's reader is never fed, nor read
        return wire

    def give_back(self, wire: _Wire) -> None:
        if wire.lost:
            self._drop(wire)
        else:
            self.idle.put_nowait(wire)

    def _drop(self, wire: _Wire) -> None:
        wire.close()
        self.opened -= 1


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
        wire = await connections.take()
        finished = False
        try:
            try:
                reply = await wire.command(evalsha)
            except NoScriptError:
                command = hiredis.pack_command(("EVAL", self.source, len(keys), *keys, *args))  # type: ignore[arg-type]
                reply = await wire.command(command)
            finished = True
            return reply
        except ResponseError:
            finished = True  # an error reply: the connection is in step, the next command can use it
            raise
        finally:
            if not finished:
                wire.close()  # a reply may still come: it must not be read as the next call's
            connections.give_back(wire)
