"""RBAC figures: the warm-cache permission check per request (micro-benchmark, target < 0.2 ms) and the
GET /roles throughput of a role holder relative to GET /health on one daphne process (target >= 0.7)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_environment, compare, daphne, django_snippet

SETUP = """
from apps.accounts.models import User
from tests.helpers import grant, tokens_for
user = User.objects.create_user(username="holder", password="holder-pass-123")
async def setup():
    await grant(user, "GET:/api/v1/roles", name="lister")
    return await tokens_for(user, user_agent="wrk")
pair = asyncio.run(setup())
print(json.dumps({"access": pair.access_token}))
"""

MICRO = """
import statistics, time
from django.test import RequestFactory
from django.urls import resolve
from apps.accounts import routes
from apps.accounts.auth import JWTAuth, authenticate_token
from apps.accounts.authz import authz_state
from apps.accounts.models import User
import config.api  # noqa: F401  (indexes the routes)

TOKEN = %r
N = 3000

async def run():
    auth = JWTAuth()
    request = RequestFactory().get("/api/v1/roles", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    request.resolver_match = resolve("/api/v1/roles")
    user = await User.objects.aget(username="holder")
    await auth(request)  # warm the cache
    full, session_only, check = [], [], []
    for _ in range(N):
        t0 = time.perf_counter(); await auth(request); t1 = time.perf_counter()
        full.append(t1 - t0)
    for _ in range(N):
        t0 = time.perf_counter(); await authenticate_token(TOKEN); t1 = time.perf_counter()
        session_only.append(t1 - t0)
    state = await authz_state(str(user.pk))
    from apps.accounts.authz import resolve_state, state_key, global_version_key, user_version_key
    from apps.core.redis import async_redis
    r = async_redis()
    cached = await r.get(state_key(str(user.pk)))
    gv, uv = await r.get(global_version_key()), await r.get(user_version_key(str(user.pk)))
    for _ in range(N):
        t0 = time.perf_counter()
        op = routes.operation_for(request)
        st = await resolve_state(str(user.pk), cached, gv, uv)
        assert st.allows(op.code)
        check.append(time.perf_counter() - t0)
    ms = lambda xs: round(statistics.median(xs) * 1000, 4)
    return {
        "auth_call_p50_ms": ms(full),
        "token_and_session_p50_ms": ms(session_only),
        "permission_check_p50_ms": ms(check),
    }

print(json.dumps(asyncio.run(run())))
"""


def main() -> None:
    with bench_environment() as env:
        token = django_snippet(env, SETUP)["access"]
        micro = django_snippet(env, MICRO % token)
        with daphne(env) as (base, _pid):
            health, roles = compare(base, "/api/v1/health", "/api/v1/roles", {"Authorization": f"Bearer {token}"})
    print(
        f"permission check, warm cache (route lookup + cached state + code test): "
        f"p50 {micro['permission_check_p50_ms']:.4f} ms   (target < 0.2 ms)"
    )
    print(
        f"whole auth class call (JWT verify + one Redis round trip + check):      "
        f"p50 {micro['auth_call_p50_ms']:.4f} ms"
    )
    print(f"GET /api/v1/health      {health:8.0f} req/s (baseline)")
    print(f"GET /api/v1/roles       {roles:8.0f} req/s (role holder)")
    print(f"ratio roles : health    {roles / health:8.2f}   (target >= 0.7)")


if __name__ == "__main__":
    main()
