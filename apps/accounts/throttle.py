"""Login throttling: failures counted per username and per client IP in fixed windows (Redis).

An attempt reserves its slot before the password is checked: one MULTI block increments both counters, and an
attempt whose increment passes a limit takes it back and is refused. Each increment returns a distinct count, so
however many attempts arrive at once, at most the remaining allowance of them reaches the password check (a
check-then-count scheme let every concurrent attempt through before the first failure was counted). A failed
attempt keeps its slot (it is the failure); a successful one gives its IP slot back and clears the username's.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import RateLimited
from apps.core.redis import async_redis, key


def _username_key(username: str) -> str:
    return key("thr", "user", username.lower()[:150])


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [(_username_key(username), settings.LOGIN_THROTTLE_USERNAME_LIMIT)]
    if ip:
        keys.append((key("thr", "ip", ip), settings.LOGIN_THROTTLE_IP_LIMIT))
    return keys


async def throttle_reserve(*, username: str, ip: str | None) -> None:
    """Take one attempt from the username's and the ip's allowance; 42900 with Retry-After when one is used up."""
    keys = _keys(username, ip)
    window = settings.LOGIN_THROTTLE_WINDOW
    redis = async_redis()
    async with redis.pipeline(transaction=True) as pipe:
        for name, _limit in keys:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
        replies = await pipe.execute()
    retry_after = 0
    for index, (_name, limit) in enumerate(keys):
        count, ttl = replies[3 * index], replies[3 * index + 2]
        if int(count) > limit:
            retry_after = max(retry_after, ttl if ttl and ttl > 0 else window)
    if retry_after:
        # A refused attempt is not a failure: give back what it took, so the counters keep counting failures.
        await throttle_release(username=username, ip=ip)
        raise RateLimited(_("Too many failed logins; try again later"), retry_after=retry_after)


async def throttle_release(*, username: str, ip: str | None) -> None:
    """Give back a reserved attempt that was neither a success nor a failure (refused, or a dependency failed)."""
    async with async_redis().pipeline(transaction=True) as pipe:
        for name, _limit in _keys(username, ip):
            pipe.decr(name)
        await pipe.execute()


async def throttle_succeeded(*, username: str, ip: str | None) -> None:
    """The reserved attempt signed in: the ip gets its slot back and the username's failures are forgotten."""
    redis = async_redis()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(_username_key(username))
        if ip:
            pipe.decr(key("thr", "ip", ip))
        await pipe.execute()
