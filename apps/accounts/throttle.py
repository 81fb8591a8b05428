"""Login throttling: failures counted per username and per client IP in fixed windows (Redis)."""

from django.conf import settings

from apps.core.exceptions import RateLimited
from apps.core.redis import async_redis, key


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [(key("thr", "user", username.lower()[:150]), settings.LOGIN_THROTTLE_USERNAME_LIMIT)]
    if ip:
        keys.append((key("thr", "ip", ip), settings.LOGIN_THROTTLE_IP_LIMIT))
    return keys


async def throttle_check(*, username: str, ip: str | None) -> None:
    """Raise 42900 with Retry-After when the username or the ip used up its failures in the window."""
    keys = _keys(username, ip)
    redis = async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        for name, _limit in keys:
            pipe.get(name)
            pipe.ttl(name)
        replies = await pipe.execute()
    retry_after = 0
    for index, (_name, limit) in enumerate(keys):
        count, ttl = replies[2 * index], replies[2 * index + 1]
        if count is not None and int(count) >= limit:
            retry_after = max(retry_after, ttl if ttl and ttl > 0 else settings.LOGIN_THROTTLE_WINDOW)
    if retry_after:
        raise RateLimited("Too many failed logins; try again later", retry_after=retry_after)


async def throttle_fail(*, username: str, ip: str | None) -> None:
    redis = async_redis()
    async with redis.pipeline(transaction=True) as pipe:
        for name, _limit in _keys(username, ip):
            pipe.incr(name)
            pipe.expire(name, settings.LOGIN_THROTTLE_WINDOW, nx=True)
        await pipe.execute()


async def throttle_reset_username(username: str) -> None:
    await async_redis().delete(key("thr", "user", username.lower()[:150]))
