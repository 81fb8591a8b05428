"""PostgreSQL unreachable: requests fail with 50300 (+ Retry-After) within 2 s instead of waiting out a long pool
timeout, and readiness says which dependency is down. A separate process whose DATABASE_URL names a closed port
(the settings are read at start-up, so the pool's settings are the real ones)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 2.0

SNIPPET = """
import asyncio, json, time
import django
django.setup()
from django.conf import settings
from django.test import AsyncClient

async def main():
    client = AsyncClient()
    assert (await client.get("/api/v1/health")).status_code == 200  # warm: URLs, the API and its routes loaded
    answers = []
    for path, body in [
        ("/api/v1/auth/login/plain", {"username": "someone", "password": "whatever-1"}),
        ("/api/v1/auth/login/plain", {"username": "someone", "password": "whatever-1"}),
        ("/api/v1/health/ready", None),
    ]:
        started = time.perf_counter()
        if body is None:
            response = await client.get(path)
        else:
            response = await client.post(path, data=json.dumps(body), content_type="application/json")
        answers.append({
            "path": path,
            "seconds": time.perf_counter() - started,
            "status": response.status_code,
            "body": json.loads(response.content),
            "retry_after": response.get("Retry-After"),
        })
    options = settings.DATABASES["default"]["OPTIONS"]
    limits = {"pool_timeout": options["pool"]["timeout"], "connect_timeout": options.get("connect_timeout")}
    print(json.dumps({"answers": answers, **limits}))

asyncio.run(main())
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_with_database_down() -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/nowhere",
            "DJANGO_DEBUG": "true",  # the plaintext login route exists only with DEBUG
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "CRITICAL",
        }
    )
    env.pop("DATABASE_POOL_TIMEOUT", None)
    env.pop("DATABASE_CONNECT_TIMEOUT", None)
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_unreachable_fails_fast_with_50300_and_readiness_says_so():
    report = _run_with_database_down()
    assert report["pool_timeout"] <= BUDGET_SECONDS
    assert report["connect_timeout"] is not None and report["connect_timeout"] <= BUDGET_SECONDS
    login, again, ready = report["answers"]
    for answer in (login, again):
        assert answer["status"] == 503, answer
        assert answer["body"] == {"code": 50300, "message": answer["body"]["message"], "data": None}
        assert answer["retry_after"] is not None
        assert answer["seconds"] < BUDGET_SECONDS, answer
    assert ready["status"] == 503
    assert ready["retry_after"] is not None
    assert ready["body"]["data"]["checks"]["database"] == "error"
    assert ready["body"]["data"]["checks"]["cache"] == "ok"
    assert ready["seconds"] < BUDGET_SECONDS, ready
    # No connection string or error text leaks into the answers.
    assert "nowhere" not in json.dumps(report["answers"]) and "postgres://" not in json.dumps(report["answers"])
