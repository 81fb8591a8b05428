"""Rate-limiter figures: its cost per request (target p50 < 0.1 ms): the median difference between the same
in-process API call with the limiter on and off, made in alternation (pairs), next to a Redis PING round trip
measured in the same rounds (the ratio is the figure that carries over to a busier or quieter machine).

- signed-in call (GET /auth/user/info): the count rides in the auth class's pipeline (two more commands);
- public call (GET /auth/keys/public): one INCRBY round trip reserves a block of the window's units
  (RATE_LIMIT_LEASE, 20 here), the calls in between count in the process; the mean shows the amortised trip.

Each call goes through the URL resolver and Ninja's whole operation (auth, throttle, handler, rendering), not
through the middleware, which the limiter does not touch.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_environment, django_snippet

# Limits no benchmark reaches: counting costs the same whatever the limit, and no call is refused.
UNREACHABLE = {name: "1000000000/min" for name in ("DEFAULT", "PUBLIC", "LOGIN", "REFRESH", "UPLOAD")}

SETUP = """
from apps.accounts.models import User
from tests.helpers import tokens_for
user = User.objects.create_user(username="counted", password="counted-pass-123")
pair = asyncio.run(tokens_for(user, user_agent="bench"))
print(json.dumps({"access": pair.access_token}))
"""

MICRO = """
import statistics, time
from django.conf import settings
from django.test import RequestFactory
from django.urls import resolve
from apps.core.redis import async_redis
import config.api  # noqa: F401  (builds the API and indexes its routes)

TOKEN = %r
ROUNDS, N = %d, %d
SIGNED_IN, PUBLIC = "/api/v1/auth/user/info", "/api/v1/auth/keys/public"
factory = RequestFactory()

def request_for(path, **headers):
    request = factory.get(path, REMOTE_ADDR="192.0.2.10", **headers)
    request.resolver_match = match = resolve(path)
    return request, match

async def call(path, limited, headers):
    settings.RATE_LIMIT_ENABLED = limited
    request, match = request_for(path, **headers)  # a fresh request each time, as in production
    t0 = time.perf_counter()
    response = await match.func(request, **match.kwargs)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.content
    assert ("X-RateLimit-Limit" in response) == limited
    return elapsed

async def paired(path, headers, first_limited):
    # Calls with and without the limiter in alternation: a load spike hits both sides of a pair alike.
    off, costs = [], []
    for _ in range(N):
        a = await call(path, first_limited, headers)
        b = await call(path, not first_limited, headers)
        on_time, off_time = (a, b) if first_limited else (b, a)
        off.append(off_time)
        costs.append(on_time - off_time)
    return statistics.median(off) * 1000, statistics.median(costs) * 1000, statistics.fmean(costs) * 1000

async def pings():
    redis = async_redis()
    samples = []
    for _ in range(N):
        t0 = time.perf_counter(); await redis.ping(); samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000

async def run():
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    for path, headers in ((SIGNED_IN, auth), (PUBLIC, {})):  # warm caches, connections, the verified token
        await paired(path, headers, True)
    out = {"ping": []}
    for index in range(ROUNDS):
        out["ping"].append(await pings())
        for kind, path, headers in (("signed_in", SIGNED_IN, auth), ("public", PUBLIC, {})):
            off, cost, mean = await paired(path, headers, index %% 2 == 0)
            out.setdefault(kind + "_off", []).append(off)
            out.setdefault(kind + "_cost", []).append(cost)
            out.setdefault(kind + "_mean", []).append(mean)
    return out

print(json.dumps(asyncio.run(run())))
"""


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(rounds: int = 7, calls: int = 2000) -> None:
    env_extra = {f"RATE_LIMIT_{name}": rate for name, rate in UNREACHABLE.items()}
    with bench_environment(env_extra) as env:
        token = django_snippet(env, SETUP)["access"]
        figures = django_snippet(env, MICRO % (token, rounds, calls))
    ping = _median(figures["ping"])
    print(f"{rounds} rounds of {calls} pairs of calls (limiter off, on); medians over the rounds (range in brackets)")
    print(f"Redis PING round trip (baseline)           p50 {ping:.3f} ms")
    for kind, label in (("signed_in", "signed-in GET /auth/user/info"), ("public", "public GET /auth/keys/public")):
        cost, off = _median(figures[kind + "_cost"]), _median(figures[kind + "_off"])
        mean = _median(figures[kind + "_mean"])
        low, high = min(figures[kind + "_cost"]), max(figures[kind + "_cost"])
        print(
            f"{label:33s}  call p50 {off:.3f} ms without the limiter; limiter cost p50 {cost:.3f} ms "
            f"[{low:.3f} .. {high:.3f}] = {cost / ping:.2f} x PING = {cost / off:.1%} of the call; "
            f"mean {mean:.3f} ms = {mean / ping:.2f} x PING"
        )
    print("target: limiter cost p50 < 0.1 ms per request")


if __name__ == "__main__":
    main()
