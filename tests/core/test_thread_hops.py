"""No OS thread per request, over a live daphne process in production settings (apps/core/asgi.py).

The process counts every Thread.start and every ThreadPoolExecutor.submit (each sync_to_async goes through one)
when API_TEST_ROUTES is on, and /proc lists its native threads. After a warm-up, a few seconds of concurrent
load on /health, /auth/user/info and /roles must start no thread and hop to none, while everything a request
carries still happens: request ids, security headers, the live-session check (revocation is immediate), the
operation log. Routes that do run ORM work reuse their threads and return their pooled connections, under load
and after PostgreSQL terminated every connection of the application.
"""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from harness import bench_environment, daphne, django_snippet  # noqa: E402

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
POOL_MAX_SIZE = 6
CONCURRENCY = 16
TOKENS_SNIPPET = """
from apps.accounts.models import User
from tests.helpers import tokens_for
admin = User.objects.get(username="admin")
pairs = [asyncio.run(tokens_for(admin, user_agent=f"hops-{n}")) for n in range(2)]
print(json.dumps({"access": [pair.access_token for pair in pairs]}))
"""


@dataclass
class Live:
    base: str
    pid: int
    database: str
    token: str  # stays signed in
    spare_token: str  # signed out by the revocation test

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    extra = {"API_TEST_ROUTES": "true", "DATABASE_POOL_MAX_SIZE": str(POOL_MAX_SIZE), "LOG_LEVEL": "WARNING"}
    with bench_environment(extra) as env:
        tokens = django_snippet(env, TOKENS_SNIPPET)["access"]
        database = env["DATABASE_URL"].rsplit("/", 1)[1]
        with daphne(env) as (base, pid):
            yield Live(base, pid, database, tokens[0], tokens[1])


def counters(live: Live) -> dict[str, Any]:
    data = httpx.get(f"{live.base}/api/v1/_test/threads", timeout=10).json()["data"]
    return {**data, "tids": set(os.listdir(f"/proc/{live.pid}/task"))}


def load(url: str, headers: dict[str, str], seconds: float, concurrency: int = CONCURRENCY) -> list[httpx.Response]:
    """Concurrent keep-alive clients for `seconds`; every response kept (a few hundred per second at most)."""

    async def run() -> list[httpx.Response]:
        responses: list[httpx.Response] = []
        deadline = time.monotonic() + seconds

        async def worker(client: httpx.AsyncClient, n: int) -> None:
            while time.monotonic() < deadline:
                responses.append(
                    await client.get(url, headers={**headers, "X-Request-ID": f"hops-{n}-{len(responses)}"})
                )

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            await asyncio.gather(*(worker(client, n) for n in range(concurrency)))
        return responses

    return asyncio.run(run())


def psql(sql: str) -> str:
    result = subprocess.run(["psql", ADMIN_URL, "-Atqc", sql], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def app_backends(live: Live) -> list[str]:
    """State of every backend connected to the application's database (this test holds none)."""
    rows = psql(f"SELECT state FROM pg_stat_activity WHERE datname = '{live.database}' AND pid <> pg_backend_pid()")
    return rows.splitlines()


def assert_carried(responses: list[httpx.Response]) -> None:
    """What every answer carries, whichever way the handler ran it."""
    assert responses
    for response in responses:
        assert response.status_code == 200, response.text
        assert response.json()["code"] == 0
        assert response.headers["X-Request-ID"].startswith("hops-")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/auth/user/info", "/api/v1/roles"])
def test_no_thread_is_started_or_woken_per_request(live: Live, path: str) -> None:
    url = live.base + path
    assert_carried(load(url, live.auth(), seconds=1.5))  # warm-up: first-use caches, the audit writer, pools
    before = counters(live)
    responses = load(url, live.auth(), seconds=4)
    after = counters(live)
    assert_carried(responses)
    assert len(responses) > 50
    assert after["started"] - before["started"] == 0, after["recent"][-1:]
    assert after["submitted"] - before["submitted"] == 0, after["recent"][-1:]
    assert after["tids"] - before["tids"] == set()


def test_the_counters_see_a_thread_hop(live: Live) -> None:
    """The check above would pass on a blind counter: a route that runs ORM work must show its hops."""
    before = counters(live)
    responses = load(f"{live.base}/api/v1/users?page=1&size=5", live.auth(), seconds=1, concurrency=2)
    assert_carried(responses)
    after = counters(live)
    assert after["submitted"] - before["submitted"] >= len(responses)


def test_orm_routes_reuse_their_threads_and_return_their_connections(live: Live) -> None:
    url = f"{live.base}/api/v1/users?page=1&size=5"
    assert_carried(load(url, live.auth(), seconds=2))
    before = counters(live)
    responses = load(url, live.auth(), seconds=4)
    after = counters(live)
    assert_carried(responses)
    # Each request's sync work ran on a thread an earlier request started; Django starts two per request.
    assert after["started"] - before["started"] < len(responses) / 20, after["recent"][-1:]
    assert after["alive"] < CONCURRENCY * 3 + 12
    # Never more connections than the pool holds, and none left in a transaction once the load stopped.
    states = app_backends(live)
    assert 0 < len(states) <= POOL_MAX_SIZE
    assert "idle in transaction" not in states and "active" not in states, states


def test_requests_succeed_after_postgresql_terminated_every_connection(live: Live) -> None:
    url = f"{live.base}/api/v1/users?page=1&size=5"
    assert_carried(load(url, live.auth(), seconds=1))
    assert app_backends(live)
    killed = psql(
        f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{live.database}' AND pid <> pg_backend_pid()"
    )
    assert int(killed) > 0
    deadline = time.monotonic() + 5
    while app_backends(live) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app_backends(live) == []
    # The pool checks each connection it hands out and replaces the dead ones. psycopg_pool backs off after the
    # second dead one within a checkout, so the first request after a reset may outlast the pool timeout: it is
    # a 50300 with Retry-After then, never a 500, and every later request finds live connections.
    first = httpx.get(url, headers={**live.auth(), "X-Request-ID": "hops-after-reset"}, timeout=10)
    if first.status_code != 200:
        assert (first.status_code, first.json()["code"]) == (503, 50300) and first.headers["Retry-After"]
    for _ in range(POOL_MAX_SIZE + 2):
        response = httpx.get(url, headers={**live.auth(), "X-Request-ID": "hops-after-reset"}, timeout=10)
        assert_carried([response])
    assert_carried(load(url, live.auth(), seconds=1.5))
    states = app_backends(live)
    assert 0 < len(states) <= POOL_MAX_SIZE and "idle in transaction" not in states


def test_revocation_is_immediate_and_writes_are_audited(live: Live) -> None:
    spare = live.auth(live.spare_token)
    assert_carried(load(f"{live.base}/api/v1/auth/user/info", spare, seconds=0.5, concurrency=2))
    logout = httpx.post(f"{live.base}/api/v1/auth/logout", headers={**spare, "X-Request-ID": "hops-logout"}, timeout=10)
    assert logout.status_code == 200, logout.text
    revoked = httpx.get(f"{live.base}/api/v1/auth/user/info", headers=spare, timeout=10)
    assert (revoked.status_code, revoked.json()["code"]) == (401, 40103)
    # The operation log of the logout reaches MongoDB through the writer, off the request path.
    deadline = time.monotonic() + 15
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        page = httpx.get(
            f"{live.base}/api/v1/audit/operations",
            params={"path": "/api/v1/auth/logout", "method": "POST"},
            headers=live.auth(),
            timeout=10,
        )
        assert page.status_code == 200, page.text
        found = [item for item in page.json()["data"]["items"] if item.get("request_id") == "hops-logout"]
        time.sleep(0.2)
    assert found, "the logout was not audited"
