"""API rate limits against the real Redis: per user and per IP, per route group, headers, windows, outages."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, RequestFactory
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient

from apps.accounts import routes
from apps.core import ratelimit
from apps.core.ratelimit import Counter, Rate, RateLimit, ip_ident, parse_rate
from apps.core.redis import key, sync_redis
from config.api import api
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
KEYS = "/api/v1/auth/keys/public"  # public, "public" group
LOGIN = "/api/v1/auth/login"  # public, "login" group
REFRESH = "/api/v1/auth/token/refresh"  # public, "refresh" group
USER_INFO = "/api/v1/auth/user/info"  # signed in, "default" group
UPLOADS = "/api/v1/files/uploads"  # permission-checked, "upload" group
HEALTH = "/api/v1/health"  # "health" group, not limited
GENEROUS = "100000/min"


@pytest.fixture
def limits(settings):
    """Every group generous, each test tightening the ones it is about."""
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_GROUPS = {
        "default": GENEROUS,
        "public": GENEROUS,
        "login": GENEROUS,
        "refresh": GENEROUS,
        "upload": GENEROUS,
        "health": "off",
    }

    def tighten(**groups: str) -> None:
        settings.RATE_LIMIT_GROUPS = {**settings.RATE_LIMIT_GROUPS, **groups}

    return tighten


@pytest.fixture
async def alice():
    return await sync_to_async(UserFactory.create)(username="alice", password="alice-pass-1")


@pytest.fixture
async def bob():
    return await sync_to_async(UserFactory.create)(username="bob", password="bob-pass-1")


@pytest.fixture
async def root():
    return await sync_to_async(UserFactory.create)(username="root", password="root-pass-1", is_superuser=True)


class _ClientFrom(AsyncClient):
    """An async client whose requests come from `ip` (the ASGI scope's client address)."""

    def __init__(self, ip: str) -> None:
        super().__init__()
        self.ip = ip

    def _base_scope(self, **request):
        scope = super()._base_scope(**request)  # type: ignore[misc]  # AsyncRequestFactory's, not in the stubs
        return {**scope, "client": [self.ip, 40000]}


def _from(ip: str) -> AsyncClient:
    return _ClientFrom(ip)


def _assert_refused(response, *, limit: int) -> None:
    assert response.status_code == 429
    body = envelope_of(response)
    assert body["code"] == 42900 and body["data"] is None and body["message"]
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert response["X-RateLimit-Limit"] == str(limit)
    assert response["X-RateLimit-Remaining"] == "0"
    assert int(response["X-RateLimit-Reset"]) == retry_after


# --- rates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/min", Rate(20, 60)),
        ("20/m", Rate(20, 60)),
        ("5/10s", Rate(5, 10)),
        ("1000/h", Rate(1000, 3600)),
        ("10000/day", Rate(10000, 86400)),
        (" 3 / sec ", Rate(3, 1)),
        ("off", None),
        ("", None),
    ],
)
def test_parse_rate_reads_ninjas_format(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["20", "20/fortnight", "0/min", "-1/min", "5/0s", "x/min", "20/min/2"])
def test_parse_rate_refuses_malformed_rates(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


def test_install_refuses_a_malformed_rate_or_an_unknown_group(settings):
    settings.RATE_LIMIT_GROUPS = {**settings.RATE_LIMIT_GROUPS, "login": "lots"}
    with pytest.raises(ImproperlyConfigured, match="lots"):
        ratelimit.install(NinjaAPI(urls_namespace="rl-bad-rate"))
    settings.RATE_LIMIT_GROUPS = {"default": "1/min"}
    settings.RATE_LIMIT_ROUTES = {"GET:/api/v1/x": "nope"}
    with pytest.raises(ImproperlyConfigured, match="nope"):
        ratelimit.install(NinjaAPI(urls_namespace="rl-bad-group"))


def test_defaults_are_generous_with_stricter_login_refresh_and_upload():
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_READ_DOT_ENV": "false"}
    probe = "import json; from django.conf import settings; print(json.dumps(settings.RATE_LIMIT_GROUPS))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    groups = {name: parse_rate(text) for name, text in json.loads(result.stdout.strip().splitlines()[-1]).items()}
    per_minute = {name: rate.limit * 60 / rate.window for name, rate in groups.items() if rate}
    assert per_minute["default"] >= 1000 and per_minute["public"] >= 300
    for strict in ("login", "refresh", "upload"):
        assert per_minute[strict] < per_minute["public"] <= per_minute["default"], strict
    assert groups["health"] is None


def test_every_operation_is_limited_and_every_listed_route_exists():
    catalogue = {info.code for info in routes.catalogue()}
    from django.conf import settings

    assert set(settings.RATE_LIMIT_ROUTES) <= catalogue
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                assert any(isinstance(t, RateLimit) for t in operation.throttle_objects), operation.view_func
                # count_requests wraps Operation.run itself: it runs before Ninja's auth and throttle checks.
                assert operation.run.__code__.co_name in ("counted", "counted_sync"), operation.view_func
                assert operation.run.__dict__["__wrapped__"].__self__ is operation, operation.view_func


def test_ipv6_clients_are_counted_per_network(settings):
    settings.RATE_LIMIT_IPV6_PREFIX = 64
    factory = RequestFactory()

    def ident(address: str) -> str:
        return ip_ident(factory.get("/", REMOTE_ADDR=address))

    assert ident("2001:db8:1:2::1") == ident("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert ident("2001:db8:1:3::1") != ident("2001:db8:1:2::1")
    assert ident("203.0.113.7") == "203.0.113.7"
    assert ident("") == "unknown"


# --- per IP, per user, per group -----------------------------------------------------------------------------


async def test_public_route_is_limited_per_ip_with_headers_on_every_answer(client, limits):
    limits(public="3/h")
    for remaining in (2, 1, 0):
        response = await _from("198.51.100.1").get(KEYS)
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
        assert response["X-RateLimit-Remaining"] == str(remaining)
        assert 1 <= int(response["X-RateLimit-Reset"]) <= 3600
        assert "Retry-After" not in response
    _assert_refused(await _from("198.51.100.1").get(KEYS), limit=3)
    # Another address has its own window.
    other = await _from("198.51.100.2").get(KEYS)
    assert other.status_code == 200 and other["X-RateLimit-Remaining"] == "2"
    # A forged X-Forwarded-For is no new address (no trusted proxies are configured).
    forged = await _from("198.51.100.1").get(KEYS, headers={"X-Forwarded-For": "192.0.2.77"})
    assert forged.status_code == 429


async def test_behind_trusted_proxies_the_forwarded_client_is_counted(limits, settings):
    limits(public="1/h")
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = _from("10.0.0.5")
    assert (await proxy.get(KEYS, headers={"X-Forwarded-For": "192.0.2.1"})).status_code == 200
    _assert_refused(await proxy.get(KEYS, headers={"X-Forwarded-For": "192.0.2.1"}), limit=1)
    assert (await proxy.get(KEYS, headers={"X-Forwarded-For": "192.0.2.2"})).status_code == 200


async def test_signed_in_route_is_limited_per_user_not_per_ip(client, limits, alice, bob):
    limits(default="2/h")
    alice_headers, bob_headers = await bearer_headers(alice), await bearer_headers(bob)
    for remaining in (1, 0):
        response = await client.get(USER_INFO, headers=alice_headers)
        assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(remaining)
    _assert_refused(await client.get(USER_INFO, headers=alice_headers), limit=2)
    # A second session of alice shares her counter; bob, from the same address, has his own.
    _assert_refused(await client.get(USER_INFO, headers=await bearer_headers(alice)), limit=2)
    assert (await client.get(USER_INFO, headers=bob_headers)).status_code == 200


async def test_anonymous_and_signed_in_requests_count_separately(client, limits, alice):
    limits(public="1/h", default="1/h")
    headers = await bearer_headers(alice)
    assert (await client.get(KEYS)).status_code == 200
    _assert_refused(await client.get(KEYS), limit=1)
    # The address's public window is spent; alice's own window on a signed-in route is not.
    assert (await client.get(USER_INFO, headers=headers)).status_code == 200
    _assert_refused(await client.get(USER_INFO, headers=headers), limit=1)
    # A public route is counted per address even when a signed-in client calls it.
    _assert_refused(await client.get(KEYS, headers=headers), limit=1)


async def test_refused_authentication_is_not_counted(client, limits, alice):
    limits(default="1/h")
    for _ in range(3):
        assert (await client.get(USER_INFO)).status_code == 401
        assert (await client.get(USER_INFO, headers={"Authorization": "Bearer nonsense"})).status_code == 401
    response = await client.get(USER_INFO, headers=await bearer_headers(alice))
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == "0"


async def test_login_has_its_own_stricter_window(client, limits):
    limits(login="2/h", public="50/h")
    body = json.dumps({"username": "nobody", "password": "not-a-ciphertext"})
    for _ in range(2):
        response = await client.post(LOGIN, data=body, content_type="application/json")
        assert response.status_code != 429 and response["X-RateLimit-Limit"] == "2"
    # Counted before the body is even read: the third attempt does no work at all.
    _assert_refused(await client.post(LOGIN, data=body, content_type="application/json"), limit=2)
    _assert_refused(await client.post(LOGIN, data="{not json", content_type="application/json"), limit=2)
    # Other public routes of the same address keep the "public" group's window.
    keys = await client.get(KEYS)
    assert keys.status_code == 200 and keys["X-RateLimit-Limit"] == "50"
    # Another address may still log in.
    response = await _from("203.0.113.9").post(LOGIN, data=body, content_type="application/json")
    assert response.status_code != 429


async def test_token_refresh_has_its_own_window(client, limits, alice):
    limits(refresh="1/h")
    pair = await tokens_for(alice)
    first = await client.post(
        REFRESH,
        data=json.dumps({"refresh_token": pair.refresh_token}),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )
    assert first.status_code == 200, first.content
    second = await client.post(
        REFRESH,
        data=json.dumps({"refresh_token": first.json()["data"]["refresh_token"]}),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )
    _assert_refused(second, limit=1)


async def test_upload_init_is_limited_per_user_in_its_group(client, limits, root):
    limits(upload="1/h", default="50/h")
    headers = await bearer_headers(root)
    first = await client.post(UPLOADS, data="{}", content_type="application/json", headers=headers)
    assert first.status_code == 422 and first["X-RateLimit-Limit"] == "1"  # counted, then the body was refused
    _assert_refused(await client.post(UPLOADS, data="{}", content_type="application/json", headers=headers), limit=1)
    listing = await client.get("/api/v1/files", headers=headers)
    assert listing.status_code == 200 and listing["X-RateLimit-Limit"] == "50"


async def test_health_routes_are_not_limited(client, limits):
    limits(public="1/h")
    for _ in range(5):
        response = await client.get(HEALTH)
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response


async def test_window_resets(client, limits):
    limits(public="2/2s")
    await asyncio.sleep(2 - time.time() % 2 + 0.05)  # windows are aligned to the clock: start one afresh
    assert (await client.get(KEYS)).status_code == 200
    assert (await client.get(KEYS)).status_code == 200
    refused = await client.get(KEYS)
    assert refused.status_code == 429 and refused["Retry-After"] in ("1", "2")
    await asyncio.sleep(int(refused["Retry-After"]) + 0.1)
    again = await client.get(KEYS)
    assert again.status_code == 200 and again["X-RateLimit-Remaining"] == "1"


def test_counter_windows_are_aligned_to_the_clock():
    rate = Rate(limit=5, window=60)
    counter = Counter("app:rl:public:ip:192.0.2.1", rate, now=1_000_000_030.4)
    assert counter.key == "app:rl:public:ip:192.0.2.1:16666667"  # window 16666667 = [1e9 + 20, 1e9 + 80)
    assert counter.reset == 50  # seconds to the window's end, rounded up
    assert counter.expire_at == 1_000_000_140  # one window after its end
    assert Counter("k", rate, now=1_000_000_079.99).key == "k:16666667"
    assert Counter("k", rate, now=1_000_000_080.0).key.endswith(":16666668")


async def test_counters_expire_after_their_window(client, limits):
    limits(public="5/h")
    await client.get(KEYS)
    await client.get(KEYS)
    redis = sync_redis()
    counters = list(redis.scan_iter(key("rl", "public", "*")))
    assert len(counters) == 1
    ttl = redis.ttl(counters[0])
    assert 3600 < ttl <= 7200 and redis.get(counters[0]) == "2"


async def test_concurrent_requests_never_exceed_the_limit(client, limits):
    limits(public="10/h")
    responses = await asyncio.gather(*(client.get(KEYS) for _ in range(60)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 50


async def test_disabled_limits_count_nothing(client, limits, settings):
    limits(public="1/h")
    settings.RATE_LIMIT_ENABLED = False
    for _ in range(3):
        response = await client.get(KEYS)
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response


# --- Ninja's throttle= decides which routes and groups ----------------------------------------------------------

_ninja_api = NinjaAPI(urls_namespace="ratelimit-test", throttle=RateLimit())
ratelimit.install(_ninja_api)


@_ninja_api.get("/limited")
async def _limited(request):
    return {"ok": True}


@_ninja_api.get("/unlimited", throttle=[])
async def _unlimited(request):
    return {"ok": True}


@_ninja_api.get("/strict", throttle=RateLimit("login"))
async def _strict(request):
    return {"ok": True}


@_ninja_api.get("/sync")
def _sync(request):
    return {"ok": True}


async def test_ninja_throttle_parameter_opts_out_or_picks_the_group(limits):
    limits(public="2/h", login="1/h")
    test_client = TestAsyncClient(_ninja_api)
    statuses = [(await test_client.get("/limited")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert [(await test_client.get("/unlimited")).status_code for _ in range(3)] == [200, 200, 200]
    assert [(await test_client.get("/strict")).status_code for _ in range(2)] == [200, 429]


async def test_sync_operations_are_limited_too(limits):
    limits(public="1/h")
    test_client = TestAsyncClient(_ninja_api)
    first = await sync_to_async(lambda: _ninja_api_sync_client().get("/sync"))()
    second = await sync_to_async(lambda: _ninja_api_sync_client().get("/sync"))()
    assert first.status_code == 200 and second.status_code == 429
    assert (await test_client.get("/limited")).status_code == 429  # the same address and group


def _ninja_api_sync_client():
    from ninja.testing import TestClient

    return TestClient(_ninja_api)


# --- Redis down ----------------------------------------------------------------------------------------------------


async def test_redis_outage_answers_50300_not_500_and_health_still_answers(client, limits, settings, alice):
    headers = await bearer_headers(alice)  # the session is made while Redis is up
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    for path, extra in ((KEYS, {}), (USER_INFO, {"headers": headers})):
        response = await client.get(path, **extra)
        assert response.status_code == 503, path
        assert envelope_of(response)["code"] == 50300 and response["Retry-After"]
    assert (await client.get(HEALTH)).status_code == 200


# --- leases: public counters reserved in blocks -----------------------------------------------------------------


@pytest.fixture
def leases(settings):
    settings.RATE_LIMIT_LEASE = 20
    ratelimit.forget_leases()
    yield
    ratelimit.forget_leases()


async def test_public_counters_reserve_a_fiftieth_of_the_limit_at_once(client, limits, leases):
    limits(public="1000/h")  # a fiftieth: 20 units per reservation
    assert ratelimit.lease_size(Rate(1000, 3600)) == 20 and ratelimit.lease_size(Rate(99, 60)) == 1
    redis = sync_redis()
    first = await client.get(KEYS)
    assert first.status_code == 200 and first["X-RateLimit-Remaining"] == "999"
    (counter,) = list(redis.scan_iter(key("rl", "public", "*")))
    assert redis.get(counter) == "20" and 3600 < redis.ttl(counter) <= 7200
    for _ in range(19):  # the rest of the reservation: no Redis command
        assert (await client.get(KEYS)).status_code == 200
    assert redis.get(counter) == "20"
    last = await client.get(KEYS)  # the 21st reserves the next block
    assert redis.get(counter) == "40" and last["X-RateLimit-Remaining"] == "979"


async def test_leased_counting_never_lets_more_than_the_limit_through(client, limits, leases):
    limits(public="100/h")  # reservations of 2
    statuses = [r.status_code for r in await asyncio.gather(*(client.get(KEYS) for _ in range(150)))]
    assert statuses.count(200) == 100 and statuses.count(429) == 50


async def test_units_another_process_reserved_count_against_the_limit(client, limits, leases):
    limits(public="100/h")
    assert (await client.get(KEYS)).status_code == 200  # this "process" holds one unreserved unit now
    ratelimit.forget_leases()  # ... which a process that went away took with it
    statuses = [(await client.get(KEYS)).status_code for _ in range(100)]
    assert statuses.count(200) == 98 and statuses[-2:] == [429, 429]  # stricter by that unit, never looser
