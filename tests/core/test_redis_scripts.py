"""The request path's Lua script runner (apps/core/redis_scripts.py) against the real Redis."""

import asyncio
import gc
import socket

import pytest
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.core import redis_scripts
from apps.core.redis import async_redis
from apps.core.redis_scripts import RequestPathScript

ECHO = "return {KEYS[1], ARGV[1]}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_each_call_gets_its_own_reply_under_concurrency():
    script = RequestPathScript(ECHO)
    replies = await asyncio.gather(*[script([f"k{i}"], [str(i)]) for i in range(300)])
    assert replies == [[f"k{i}", str(i)] for i in range(300)]
    connections = script._runner()
    assert isinstance(connections, redis_scripts._Connections) and connections.opened <= redis_scripts.MAX_CONNECTIONS


async def test_a_flushed_script_is_loaded_again():
    script = RequestPathScript(ECHO + " -- flushed")
    await async_redis().script_flush()
    assert await script(["a"], ["1"]) == ["a", "1"]  # NOSCRIPT, then EVAL
    assert (await async_redis().script_exists(script.sha)) == [True]
    assert await script(["b"], ["2"]) == ["b", "2"]


async def test_a_cancelled_call_leaves_no_reply_for_the_next_one():
    script = RequestPathScript(ECHO)
    assert await script(["warm"], ["0"]) == ["warm", "0"]
    cancelled = 0
    for attempt in range(6):
        task = asyncio.create_task(script(["cancelled"], [f"c{attempt}"]))
        for _ in range(attempt):
            await asyncio.sleep(0)  # cancel at different points: before the send, waiting for the reply ...
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled += 1
        assert await script(["next"], [f"n{attempt}"]) == ["next", f"n{attempt}"]
    assert cancelled >= 3


async def test_connections_redis_dropped_are_replaced():
    script = RequestPathScript(ECHO)
    await asyncio.gather(*[script(["k"], [str(i)]) for i in range(20)])
    killed = await async_redis().client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert await asyncio.gather(*[script(["k"], [str(i)]) for i in range(20)]) == [["k", str(i)] for i in range(20)]


async def test_a_script_error_is_raised_and_the_connection_stays_usable():
    broken = RequestPathScript("return redis.call('no-such-command')")
    with pytest.raises(ResponseError):
        await broken([], [])
    assert await RequestPathScript(ECHO)(["after"], ["x"]) == ["after", "x"]


async def test_redis_down_raises_a_connection_error(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    with pytest.raises(RedisConnectionError):
        await RequestPathScript(ECHO)(["k"], ["v"])


async def test_a_reply_larger_than_one_read_arrives_whole():
    big = RequestPathScript("return string.rep(ARGV[1], tonumber(ARGV[2]))")
    reply = await big([], ["ab", 600_000])  # 1.2 MB: many reads of the socket
    assert reply == "ab" * 600_000
    assert await RequestPathScript(ECHO)(["after"], ["big"]) == ["after", "big"]


async def test_the_connection_speaks_to_the_database_of_redis_url(settings):
    default_database = async_redis()
    settings.REDIS_URL = settings.REDIS_URL.rsplit("/", 1)[0] + "/13"
    script = RequestPathScript("redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])")
    name = "redis-scripts:database-check"
    try:
        assert await script([name], ["here"]) == "here"
        assert await async_redis().get(name) == "here"  # database 13, as REDIS_URL says (the SELECT carried over)
        assert await default_database.get(name) is None
    finally:
        await async_redis().delete(name)


async def test_error_replies_raise_what_redis_py_raises():
    loading = RequestPathScript("return redis.error_reply('LOADING Redis is loading the dataset in memory')")
    with pytest.raises(BusyLoadingError):  # a connection error: the caller answers 50300
        await loading([], [])
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await RequestPathScript("return redis.error_reply('WRONGTYPE not a list')")([], [])
    assert await RequestPathScript(ECHO)(["after"], ["errors"]) == ["after", "errors"]


async def test_connections_outlive_a_garbage_collection():
    # redis-py closes the socket of a Connection object it collects: the wire must keep its Connection alive.
    script = RequestPathScript(ECHO)
    await asyncio.gather(*[script(["k"], [str(i)]) for i in range(8)])
    connections = script._runner()
    wires = list(connections.idle._queue)  # type: ignore[union-attr]
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)  # a closed transport reports connection_lost on the next loop turns
    assert wires and not any(wire.lost for wire in wires)
    await asyncio.gather(*[script(["k"], [str(i)]) for i in range(8)])
    assert set(connections.idle._queue) == set(wires)  # type: ignore[union-attr]  # the same connections, reused
