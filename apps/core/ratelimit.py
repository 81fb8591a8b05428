"""API rate limiting: fixed windows per route group in Redis, counted per user on signed-in routes and per
client IP on public ones, enforced through Ninja's throttling.

Ninja asks its throttles synchronously and after authentication, in async operations too, so a throttle cannot
await Redis (and Ninja's SimpleRateThrottle rewrites a list in the cache, which concurrent requests race on). The
counting therefore happens where the request awaits Redis anyway: a signed-in request inside the auth class's
one pipeline (one more command, no extra round trip; see apps/accounts/auth.py), a public one in an API-level
Ninja decorator around the operation (one INCR round trip). `RateLimit`, the throttle every operation gets
from NinjaAPI(throttle=RateLimit()), then allows or refuses from that count, so Ninja's own `throttle=` of a
router or operation still says whether and in which group a route is limited (`throttle=[]` opts it out).
"""

import asyncio
import contextvars
import inspect
import ipaddress
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext
from ninja import NinjaAPI
from ninja.errors import Throttled
from ninja.operation import Operation
from ninja.throttling import BaseThrottle

from apps.accounts import routes
from apps.core.client_ip import client_ip
from apps.core.envelope import error_body
from apps.core.exceptions import ErrorCode
from apps.core.redis import async_redis, key, sync_redis

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"^(\d+)/(\d*)([a-z]+)$")
_VERDICT = "rate_limit"  # request attribute: this request's Verdict
_GROUP = "rate_limit_group"  # request attribute: the group the auth class counts a signed-in request in


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    window: int  # seconds


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate | None:
    """ "20/min", "5/10s", "1000/h", "10000/d" (Ninja's rate format) -> Rate; "off" -> None (not limited)."""
    value = text.replace(" ", "").lower()
    if value in ("", "off", "none"):
        return None
    match = _RATE.match(value)
    if match is None or match.group(3) not in _PERIODS or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ImproperlyConfigured(f"Invalid rate {text!r}: expected <requests>/<period>, e.g. 20/min or 5/10s")
    return Rate(limit=int(match.group(1)), window=int(match.group(2) or 1) * _PERIODS[match.group(3)])


def group_rate(group: str) -> Rate | None:
    rates: dict[str, str] = settings.RATE_LIMIT_GROUPS
    if group not in rates:
        raise ImproperlyConfigured(f"Rate limit group {group!r} is not in RATE_LIMIT_GROUPS")
    return parse_rate(rates[group])


@dataclass(frozen=True, slots=True)
class Verdict:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class Counter:
    """One request counted in the current window of one key: a single INCR (or one inside the auth class's script).

    Windows are aligned to the clock (window n covers [n * w, (n + 1) * w) seconds of Unix time), so the window
    and its reset follow from the time and the counter's key names its window: no TTL needs reading back. The
    window's first request sets the expiry, one window late, so a server whose clock runs a little behind never
    counts into a key that is gone already.
    """

    __slots__ = ("expire_at", "key", "rate", "reset")

    def __init__(self, name: str, rate: Rate, now: float | None = None) -> None:
        now = time.time() if now is None else now
        window = int(now // rate.window)
        self.key = f"{name}:{window}"
        self.rate = rate
        self.reset = max(1, math.ceil((window + 1) * rate.window - now))
        self.expire_at = (window + 2) * rate.window

    def record(self, request: HttpRequest, count: int) -> Verdict:
        """Record on the request the verdict of the window's count `count` (the auth class counts in its own
        Redis script, expiry included)."""
        limit = self.rate.limit
        verdict = Verdict(limit=limit, remaining=max(0, limit - count), reset=self.reset, allowed=count <= limit)
        setattr(request, _VERDICT, verdict)
        return verdict

    async def count(self, request: HttpRequest) -> Verdict:
        size = lease_size(self.rate)
        if size < 2:
            count = await async_redis().incr(self.key)
            if count == 1:
                await async_redis().expireat(self.key, self.expire_at)
            return self.record(request, count)
        return await self._count_leased(request, size)

    async def _count_leased(self, request: HttpRequest, size: int) -> Verdict:
        """Count from this process's lease of the window's units, reserving `size` more in one INCRBY when it
        is spent. The units are reserved in Redis before they are used, so all processes together never let
        more than the limit through; units a process reserved and did not use make the limit stricter by at
        most RATE_LIMIT_LEASE - 1 per process and window. One reservation per process is in flight at a time
        (the others wait for it), so a burst does not strand a block per request."""
        slot = (settings.REDIS_URL, self.key)
        lease = _leases.get(slot)
        if lease is None:
            _prune_leases()
            _leases[slot] = lease = _Lease(self.expire_at)
        while True:
            if lease.left > 0:  # no await between the check and the use: one coroutine takes each unit
                lease.left -= 1
                lease.position += 1
                return self.record(request, lease.position)
            if lease.reserving is not None:
                await lease.reserving.wait()
                continue
            lease.reserving = reserved = asyncio.Event()
            try:
                total = int(await async_redis().incrby(self.key, size))
                if total == size:
                    await async_redis().expireat(self.key, self.expire_at)
            finally:
                lease.reserving = None
                reserved.set()
            first = total - size + 1  # the first unit of this reservation; this request takes it
            granted = max(0, min(size, self.rate.limit - first + 1))
            lease.left += max(0, granted - 1)
            lease.position = max(lease.position, first)
            return self.record(request, first)

    def count_sync(self, request: HttpRequest) -> Verdict:
        redis = sync_redis()
        count = int(redis.incr(self.key))
        if count == 1:
            redis.expireat(self.key, self.expire_at)
        return self.record(request, count)


class _Lease:
    """Units of one window's counter this process reserved in Redis and has not used yet."""

    __slots__ = ("expire_at", "left", "position", "reserving")

    def __init__(self, expire_at: int) -> None:
        self.expire_at = expire_at
        self.left = 0
        self.reserving: asyncio.Event | None = None  # set while this process's INCRBY is in flight
        self.position = 0  # the count the last request of this process was given (for the headers)


# (Redis URL, counter key) -> this process's lease of that window; keys name their window, so a lease dies with it.
_leases: dict[tuple[str | None, str], _Lease] = {}
_LEASES_KEPT = 10_000


def lease_size(rate: Rate) -> int:
    """Units a process reserves at once for public counters: a fiftieth of the limit, at most RATE_LIMIT_LEASE
    (below 2: every request is its own INCR, exact to the unit)."""
    cap: int = settings.RATE_LIMIT_LEASE
    return min(cap, rate.limit // 50)


def _prune_leases() -> None:
    if len(_leases) < _LEASES_KEPT:
        return
    now = time.time()
    idle = [slot for slot, lease in _leases.items() if lease.expire_at <= now or not (lease.left or lease.reserving)]
    for slot in idle:
        del _leases[slot]


def forget_leases() -> None:
    """Drop this process's leases (tests that flush Redis or change rates start from a clean count)."""
    _leases.clear()


def user_counter(request: HttpRequest, user_id: str) -> Counter | None:
    """The counter the auth class queues into its pipeline, when the operation is limited per user."""
    group: str | None = getattr(request, _GROUP, None)
    if group is None:
        return None
    rate = group_rate(group)
    return Counter(key("rl", group, "user", user_id), rate) if rate else None


def ip_ident(request: HttpRequest) -> str:
    """The client's address, IPv6 ones as their network of RATE_LIMIT_IPV6_PREFIX bits."""
    address = client_ip(request)
    if not address:
        return "unknown"
    if ":" not in address:
        return address
    prefix: int = settings.RATE_LIMIT_IPV6_PREFIX
    try:
        return str(ipaddress.IPv6Network(f"{address}/{prefix}", strict=False))
    except ValueError:
        return address


# The verdict ninja's Operation._check_throttles asks `wait()` about right after `allow_request()` refused it.
_refused: contextvars.ContextVar[Verdict | None] = contextvars.ContextVar("rate_limit_refused", default=None)


class RateLimit(BaseThrottle):
    """Ninja throttle of an operation: limited in `group` (None: RATE_LIMIT_ROUTES, else "default" for signed-in
    and "public" for public routes). It decides from the count taken before it is asked; it does no I/O."""

    def __init__(self, group: str | None = None) -> None:
        self.group = group

    def allow_request(self, request: HttpRequest) -> bool:
        verdict: Verdict | None = getattr(request, _VERDICT, None)
        if verdict is None or verdict.allowed:
            return True
        _refused.set(verdict)
        return False

    def wait(self) -> float | None:
        verdict = _refused.get()
        return float(verdict.reset) if verdict is not None else None


def _throttle_of(operation: Operation) -> RateLimit | None:
    for throttle in operation.throttle_objects:
        if isinstance(throttle, RateLimit):
            return throttle
    return None


def _prepare(request: HttpRequest, operation: Operation) -> Counter | None:
    """Pick the request's group; return the counter of a public route (the auth class counts signed-in ones)."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    throttle = _throttle_of(operation)
    if throttle is None:
        return None
    signed_in = bool(operation.auth_callbacks)
    group = throttle.group
    if group is None:
        info = routes.operation_for(request)
        group = settings.RATE_LIMIT_ROUTES.get(info.code) if info else None
    group = group or ("default" if signed_in else "public")
    if signed_in:
        setattr(request, _GROUP, group)
        return None
    rate = group_rate(group)
    return Counter(key("rl", group, "ip", ip_ident(request)), rate) if rate else None


def _stamp(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    verdict: Verdict | None = getattr(request, _VERDICT, None)
    if verdict is not None:
        for name, value in verdict.headers().items():
            response[name] = value
    return response


def count_requests(run: Callable[..., Any]) -> Callable[..., Any]:
    """Ninja "view"-mode decorator of every operation: counts public requests before Ninja's checks run, and
    puts the X-RateLimit-* headers on every limited answer."""
    operation = getattr(run, "__self__", None)
    if not isinstance(operation, Operation):
        raise ImproperlyConfigured("count_requests must wrap Operation.run directly (install it first)")

    if inspect.iscoroutinefunction(run):

        @wraps(run)
        async def counted(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                counter = _prepare(request, operation)
                if counter is not None:
                    await counter.count(request)
            except Exception as exc:  # Redis down is 50300 with Retry-After, as on the auth path
                return operation.api.on_exception(request, exc)
            return _stamp(request, await run(request, *args, **kwargs))

        return counted

    @wraps(run)
    def counted_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            counter = _prepare(request, operation)
            if counter is not None:
                counter.count_sync(request)
        except Exception as exc:
            return operation.api.on_exception(request, exc)
        return _stamp(request, run(request, *args, **kwargs))

    return counted_sync


def install(api: NinjaAPI) -> None:
    """Count the requests of every operation and answer refusals with 42900; call before adding routers."""
    for group in settings.RATE_LIMIT_GROUPS:
        group_rate(group)  # a malformed rate fails at start-up, not on the first request
    for code, group in settings.RATE_LIMIT_ROUTES.items():
        if group not in settings.RATE_LIMIT_GROUPS:
            raise ImproperlyConfigured(f"RATE_LIMIT_ROUTES[{code!r}]: unknown group {group!r}")
    api.add_decorator(count_requests, mode="view")

    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        body = error_body(ErrorCode.RATE_LIMITED, gettext("Too many requests; try again later"))
        response = api.create_response(request, body, status=ErrorCode.RATE_LIMITED.http_status)
        if exc.wait is not None:
            response["Retry-After"] = str(math.ceil(exc.wait))
        return response

    handler: Callable[..., HttpResponse] = on_throttled  # Ninja types handlers for instances or classes
    api.add_exception_handler(Throttled, handler)
