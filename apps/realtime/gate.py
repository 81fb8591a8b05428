"""A per-process cap on concurrent Redis work done for sockets.

A reconnect storm or a push to hundreds of sockets would otherwise start hundreds of Redis round trips at once,
and redis-py's asyncio pool fails (MaxConnectionsError) instead of waiting once it is exhausted.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.conf import settings

_semaphores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _semaphores.get(loop)
    if semaphore is None:
        semaphore = _semaphores[loop] = asyncio.Semaphore(max(1, settings.WS_REDIS_CONCURRENCY))
    return semaphore


@asynccontextmanager
async def redis_slot() -> AsyncIterator[None]:
    async with _semaphore():
        yield
