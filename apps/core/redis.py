"""Redis clients for the token store, throttles and permission cache.

With REDIS_URL unset (the embedded default) an in-process fakeredis server stands in, so one process works
with nothing installed; it is not shared between processes.
"""

import asyncio
import threading
import weakref
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

_lock = threading.Lock()
_sync_clients: dict[str, redis.Redis] = {}
# One asyncio client per event loop: a pool's connections belong to the loop that opened them.
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = (
    weakref.WeakKeyDictionary()
)
_fake_server: Any = None
ASYNC_POOL_SIZE = 200  # connections per event loop
ASYNC_POOL_TIMEOUT = 5  # seconds to wait for a free connection before the request fails with 50300


def _fake() -> Any:
    global _fake_server
    if _fake_server is None:
        import fakeredis

        _fake_server = fakeredis.FakeServer()
    return _fake_server


def key(*parts: object) -> str:
    return ":".join((settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)))


def sync_redis() -> redis.Redis:
    url = settings.REDIS_URL or ""
    with _lock:
        client = _sync_clients.get(url)
        if client is None:
            if url:
                client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
            else:
                import fakeredis

                client = fakeredis.FakeRedis(server=_fake(), decode_responses=True)
            _sync_clients[url] = client
    return client


def async_redis() -> aioredis.Redis:
    url = settings.REDIS_URL or ""
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.setdefault(loop, {})
    client = per_loop.get(url)
    if client is None:
        if url:
            # A bounded pool: a burst of requests waits briefly for a connection instead of opening thousands.
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=ASYNC_POOL_SIZE,
                timeout=ASYNC_POOL_TIMEOUT,
                decode_responses=True,
                health_check_interval=30,
            )
            client = aioredis.Redis(connection_pool=pool)
        else:
            import fakeredis

            client = fakeredis.FakeAsyncRedis(server=_fake(), decode_responses=True)
        per_loop[url] = client
    return client
