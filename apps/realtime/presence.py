"""Who is online: each open socket is an entry (user id, channel name) in Redis, shared by every process.

Keys: presence:u:<user_id> (sorted set of channel names scored by expiry time) and presence:online (sorted set
of user ids scored by their latest expiry). Every process refreshes its own entries every third of
WS_PRESENCE_TTL, so the entries of a process that died without closing its sockets expire on their own.
Without REDIS_URL the Redis client is an in-process stand-in, matching the in-memory channel layer.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from django.conf import settings

from apps.core.redis import async_redis, key, sync_redis
from apps.realtime.gate import redis_slot

logger = logging.getLogger("apps.realtime.presence")


def _user_key(user_id: str) -> str:
    return key("presence", "u", user_id)


def _online_key() -> str:
    return key("presence", "online")


class PresenceTracker:
    """The sockets of this process, written to the shared index and kept alive while they are open."""

    def __init__(self) -> None:
        self._local: dict[str, str] = {}  # channel name -> user id
        self._refresher: asyncio.Task[None] | None = None

    @property
    def ttl(self) -> int:
        return max(3, int(settings.WS_PRESENCE_TTL))

    async def connected(self, *, user_id: str, channel: str) -> None:
        self._local[channel] = user_id
        await self._write([(user_id, channel)])
        self._ensure_refresher()

    async def disconnected(self, *, user_id: str, channel: str) -> None:
        self._local.pop(channel, None)
        redis = async_redis()
        async with redis_slot(), redis.pipeline(transaction=True) as pipe:
            pipe.zrem(_user_key(user_id), channel)
            pipe.zremrangebyscore(_user_key(user_id), "-inf", time.time())
            await pipe.execute()

    async def refresh(self) -> None:
        """Push the expiry of every local entry forward (the periodic heartbeat)."""
        if self._local:
            await self._write([(user_id, channel) for channel, user_id in self._local.items()])

    def local_count(self) -> int:
        return len(self._local)

    async def _write(self, entries: list[tuple[str, str]]) -> None:
        now = time.time()
        expires = now + self.ttl
        redis = async_redis()
        async with redis_slot(), redis.pipeline(transaction=True) as pipe:
            for user_id in {user_id for user_id, _ in entries}:
                pipe.zremrangebyscore(_user_key(user_id), "-inf", now)
            for user_id, channel in entries:
                pipe.zadd(_user_key(user_id), {channel: expires})
                pipe.expire(_user_key(user_id), self.ttl * 2)
                pipe.zadd(_online_key(), {user_id: expires}, gt=True)
            pipe.expire(_online_key(), self.ttl * 2)
            await pipe.execute()

    def _ensure_refresher(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._refresher
        if task is None or task.done() or task.get_loop() is not loop:
            self._refresher = loop.create_task(self._refresh_forever(), name="realtime-presence-refresh")

    async def _refresh_forever(self) -> None:
        while self._local:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
            except Exception:  # Redis away for a moment: the next beat tries again
                logger.warning("presence refresh failed", exc_info=True)

    async def stop(self) -> None:
        task, self._refresher = self._refresher, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


tracker = PresenceTracker()


async def online_counts() -> dict[str, int]:
    """Every user with at least one live socket: {user_id: connections}."""
    now = time.time()
    redis = async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(_online_key(), "-inf", now)
        pipe.zrange(_online_key(), 0, -1)
        _, user_ids = await pipe.execute()
    return {user_id: n for user_id, n in (await connection_counts(user_ids)).items() if n > 0}


async def connection_counts(user_ids: Iterable[object]) -> dict[str, int]:
    """Live sockets of each given user (0 when offline)."""
    ids = [str(user_id) for user_id in user_ids]
    if not ids:
        return {}
    now = time.time()
    redis = async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in ids:
            pipe.zcount(_user_key(user_id), now, "+inf")
        counts = await pipe.execute()
    return {user_id: int(n) for user_id, n in zip(ids, counts, strict=True)}


def online_connection_counts(user_ids: Iterable[object]) -> dict[str, int]:
    """Sync twin of connection_counts for the admin: {str(user_id): live sockets}."""
    ids = [str(user_id) for user_id in user_ids]
    if not ids:
        return {}
    now = time.time()
    with sync_redis().pipeline(transaction=False) as pipe:
        for user_id in ids:
            pipe.zcount(_user_key(user_id), now, "+inf")
        counts = pipe.execute()
    return {user_id: int(n) for user_id, n in zip(ids, counts, strict=True)}
