"""Fixed-window counters for the account-recovery routes: per address asked for, and per client IP (Redis)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import RateLimited
from apps.core.redis import async_redis, key


async def throttle_hit(*, scope: str, email: str | None, ip: str | None) -> None:
    """Count one request; 42900 with Retry-After once the address or the IP used up its window's allowance.

    The address is counted whether or not an account uses it, so the answer tells nothing about accounts.
    """
    counters: list[tuple[str, int]] = []
    if email:
        counters.append((key("thr", scope, "email", email.strip().lower()[:254]), settings.PASSWORD_RESET_EMAIL_LIMIT))
    if ip:
        counters.append((key("thr", scope, "ip", ip), settings.PASSWORD_RESET_IP_LIMIT))
    if not counters:
        return
    window = settings.PASSWORD_RESET_THROTTLE_WINDOW
    async with async_redis().pipeline(transaction=True) as pipe:
        for name, _limit in counters:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
        replies = await pipe.execute()
    retry_after = 0
    for index, (_name, limit) in enumerate(counters):
        count, ttl = int(replies[3 * index]), replies[3 * index + 2]
        if count > limit:
            retry_after = max(retry_after, ttl if ttl and ttl > 0 else window)
    if retry_after:
        raise RateLimited(_("Too many requests; try again later"), retry_after=retry_after)
