#!/usr/bin/env python
"""Admin dashboard render time with 100k operation logs and 10k task runs, against a baseline of the same run.

It prepares its own world (a PostgreSQL database migrated and seeded by initdb, a MongoDB database, a Redis
cache prefix) and removes the databases afterwards, then serves the app with one daphne process in production
settings (plain HTTP). Seeded, all inside the dashboard's windows (the worst case: every document counts):
--operations operation logs spread over the last 24 hourly bars, --runs task runs (mostly SUCCESS, some
FAILURE, a few still PENDING/STARTED) over the same bars, --logins login logs over the last 14 days.

Measured, as a signed-in superuser, each figure over --samples requests, rounds interleaved so drift of a busy
machine hits all of them alike:
  first     the very first render: no rollup stored yet, so the whole window is aggregated once
  cold      the dashboard's cache cleared before every request (rollups kept: they are data, not cache)
  warm      figures served from the 30 s cache
  baseline  an admin changelist with no MongoDB work (/admin/django_celery_beat/intervalschedule/)
  scoped    a cold render for a staff operator holding every permission with a `custom` data scope of one
            department with 5 of the 50 users who wrote the logs: the rollups count everyone, so these figures
            are aggregated from the documents of those users (about a tenth of them)
Printed: p50/p95 in ms, each p50 as a ratio to the baseline's p50 and to the 300 ms target, and a one-document
MongoDB read timed just before each cold request (the server may be shared: a stall there shows as a slow
probe next to the slowest cold samples).

    .venv/bin/python scripts/bench/bench_admin.py [--operations 100000] [--runs 10000] [--samples 30]
"""

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_environment, daphne, django_snippet, percentile  # noqa: E402

TARGET_MS = 300.0
BASELINE_PATH = "/admin/django_celery_beat/intervalschedule/"
INDEX_PATH = "/admin/"
BATCH = 5000
PATHS = ["/api/v1/roles", "/api/v1/users", "/api/v1/files/uploads", "/api/v1/schedules", "/api/v1/auth/login"]


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _spread(count: int, start: datetime, end: datetime) -> list[datetime]:
    span = (end - start).total_seconds()
    return [start + timedelta(seconds=span * (i + random.random()) / count) for i in range(count)]


def seed(mongodb_url: str, *, operations: int, runs: int, logins: int) -> dict[str, Any]:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True, socketTimeoutMS=600_000)
    db = client.get_default_database()
    now = datetime.now(UTC)
    hours_start = _hour(now) - timedelta(hours=23)
    started = time.perf_counter()
    ops = []
    for i, at in enumerate(_spread(operations, hours_start, now - timedelta(seconds=1))):
        roll = random.random()
        status = 500 if roll < 0.01 else 404 if roll < 0.04 else 422 if roll < 0.06 else 201
        ops.append(
            {
                "_id": f"{int(at.timestamp() * 1000):013d}-{i:08d}",
                "request_id": uuid.uuid4().hex,
                "user_id": str(uuid.UUID(int=i % 50)),
                "username": f"user{i % 50}",
                "method": random.choice(["POST", "PATCH", "DELETE", "PUT"]),
                "path": random.choice(PATHS),
                "route": random.choice(PATHS),
                "status": status,
                "duration_ms": round(random.lognormvariate(math.log(25), 0.8), 3),
                "ip": f"10.0.{i % 250}.{i % 200}",
                "user_agent": "bench",
                "query": {},
                "body": {"name": "x"},
                "body_size": 12,
                "created_at": at,
            }
        )
    for offset in range(0, len(ops), BATCH):
        db.operation_logs.insert_many(ops[offset : offset + BATCH], ordered=False)
    task_runs = []
    for i, at in enumerate(_spread(runs, hours_start, now - timedelta(seconds=1))):
        state = "FAILURE" if random.random() < 0.05 else "SUCCESS"
        if i in (runs // 3, runs // 2):
            state = "STARTED"  # long-running: their minutes stay unsettled and are read again each time
        if i >= runs - 3:
            state = "PENDING"
        task_runs.append(
            {
                "task_id": uuid.uuid4().hex,
                "task": random.choice(["scheduler.ping", "scheduler.ping_async", "storage.cleanup"]),
                "status": state,
                "retries": 0,
                "queued_at": at,
                "started_at": at,
                "finished_at": at + timedelta(milliseconds=40) if state in ("SUCCESS", "FAILURE") else None,
                "duration_ms": 40.0,
                "error": "RuntimeError: bench" if state == "FAILURE" else None,
            }
        )
    for offset in range(0, len(task_runs), BATCH):
        db.task_runs.insert_many(task_runs[offset : offset + BATCH], ordered=False)
    days_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=13)
    login_docs = [
        {
            "_id": f"{int(at.timestamp() * 1000):013d}-{i:08d}",
            "username": f"user{i % 50}",
            "success": random.random() < 0.9,
            "reason": "ok",
            "ip": "10.0.0.1",
            "created_at": at,
        }
        for i, at in enumerate(_spread(logins, days_start, now - timedelta(seconds=1)))
    ]
    if login_docs:
        db.login_logs.insert_many(login_docs, ordered=False)
    seconds = time.perf_counter() - started
    client.close()
    return {"operations": operations, "task_runs": runs, "logins": logins, "seed_seconds": round(seconds, 1)}


# The task-run indexes (initdb made the audit ones), an admin session, and the Redis keys of the dashboard's
# cache entries, so the cold rounds can clear them between requests.
SESSION_SNIPPET = """
import uuid
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.test import Client
from apps.accounts.models import RoleProfile, User
from apps.console.dashboard import FIGURES, cache_key
from apps.console.selectors import Reach
from apps.org.models import Department, RoleScope
from apps.org.selectors import scope_of_sync
from apps.org.services import department_create_sync
from apps.scheduler.documents import ensure_indexes
ensure_indexes()
client = Client()
client.force_login(User.objects.get(username="admin"))
keys = [cache.make_key(cache_key(figure)) for figure in FIGURES]
# The scoped operator: every API code, custom scope over one department holding users 0-4 of the seeded 50.
root = Department.objects.get(code="root").pk
team = department_create_sync(data={"name": "bench team", "code": "bench-team", "parent": root})
for i in range(50):
    User.objects.create(id=uuid.UUID(int=i), username=f"user{i}", password="!", department_id=team if i < 5 else None)
role = Group.objects.create(name="bench scoped operator")
RoleProfile.objects.update_or_create(group=role, defaults={"is_active": True})
role.permissions.set(Permission.objects.filter(content_type__model="apipermission"))
RoleScope.objects.create(group=role, scope="custom").departments.set([team])
operator = User.objects.create(username="bench-scoped", password="!", is_staff=True, department_id=team)
operator.groups.add(role)
scoped = Client()
scoped.force_login(operator)
reach = Reach(scope_of_sync(operator))
scoped_keys = [cache.make_key(cache_key(figure, reach)) for figure in FIGURES]
print(json.dumps({
    "sessionid": client.cookies["sessionid"].value, "cache_keys": keys,
    "scoped_sessionid": scoped.cookies["sessionid"].value, "scoped_cache_keys": scoped_keys,
}))
"""


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "mean_ms": round(statistics.fmean(samples), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--logins", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=30, help="requests per figure")
    args = parser.parse_args()

    import httpx
    import redis

    extra = {"DJANGO_SECURE_COOKIES": "false"}  # plain HTTP on 127.0.0.1
    samples: dict[str, list[float]] = {"cold": [], "warm": [], "baseline": [], "scoped": []}
    probes: list[float] = []  # the MongoDB probe just before each cold request
    with bench_environment(extra) as env:
        mongodb_url = env["MONGODB_URL"]
        result: dict[str, Any] = {"seeded": None}
        try:
            session = django_snippet(env, SESSION_SNIPPET)
            result["seeded"] = seed(mongodb_url, operations=args.operations, runs=args.runs, logins=args.logins)
            cache_redis = redis.Redis.from_url(env["REDIS_URL"])
            keys = session["cache_keys"]
            from pymongo import MongoClient

            probe_client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)

            def mongo_probe() -> float:
                """One indexed single-document read: how busy the shared MongoDB-wire server is right now."""
                started = time.perf_counter()
                probe_client.get_default_database().task_runs.find_one({"status": "PENDING"})
                return (time.perf_counter() - started) * 1000

            with daphne(env) as (base, _pid):
                client = httpx.Client(base_url=base, cookies={"sessionid": session["sessionid"]}, timeout=600)
                scoped_client = httpx.Client(
                    base_url=base, cookies={"sessionid": session["scoped_sessionid"]}, timeout=600
                )

                def get(path: str, via: httpx.Client = client) -> tuple[float, str]:
                    started = time.perf_counter()
                    response = via.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} answered {response.status_code}")
                    return elapsed, response.text

                first_ms, html = get(INDEX_PATH)
                expected = f"{args.operations:,}"
                if 'id="dashboard"' not in html or expected not in html:
                    cards = re.sub(r"<[^>]+>|\s+", " ", html[html.find('id="dashboard-cards"') :])[:600]
                    raise RuntimeError(f"the dashboard does not show the {expected} seeded operation logs: {cards}")
                result["first_render_ms"] = round(first_ms, 1)
                for _ in range(3):  # warm-up: imports, template caches, connection pools
                    get(BASELINE_PATH)
                    get(INDEX_PATH)
                    get(INDEX_PATH, scoped_client)
                for _ in range(args.samples):
                    cache_redis.delete(*keys)
                    probes.append(mongo_probe())
                    samples["cold"].append(get(INDEX_PATH)[0])
                    samples["warm"].append(get(INDEX_PATH)[0])
                    samples["baseline"].append(get(BASELINE_PATH)[0])
                    cache_redis.delete(*session["scoped_cache_keys"])
                    samples["scoped"].append(get(INDEX_PATH, scoped_client)[0])
                client.close()
                scoped_client.close()
        finally:
            from pymongo import MongoClient

            cleanup: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, socketTimeoutMS=600_000)
            cleanup.drop_database(cleanup.get_default_database().name)
            cleanup.close()

    base_p50 = percentile(samples["baseline"], 50)
    report = {
        **result,
        **{name: _stats(values) for name, values in samples.items()},
        "target_ms": TARGET_MS,
    }
    slowest = sorted(zip(samples["cold"], probes, strict=True), reverse=True)[:3]
    report["cold"]["slowest_with_mongodb_probe_ms"] = [[round(c, 1), round(p, 1)] for c, p in slowest]
    report["mongodb_probe"] = _stats(probes)
    for name in ("cold", "warm", "scoped"):
        p50 = percentile(samples[name], 50)
        report[name]["p50_over_baseline"] = round(p50 / base_p50, 2)
        report[name]["p50_over_target"] = round(p50 / TARGET_MS, 2)
    print(json.dumps(report, indent=2))
    cold, warm = report["cold"], report["warm"]
    print(
        f"dashboard with {args.operations:,} operation logs and {args.runs:,} task runs: "
        f"cold p50 {cold['p50_ms']} ms (p95 {cold['p95_ms']}), warm p50 {warm['p50_ms']} ms "
        f"(p95 {warm['p95_ms']}), baseline changelist p50 {report['baseline']['p50_ms']} ms; "
        f"cold/baseline {cold['p50_over_baseline']}, cold/target {cold['p50_over_target']}; "
        f"first render (builds the rollups) {result['first_render_ms']} ms; "
        f"scoped operator cold p50 {report['scoped']['p50_ms']} ms "
        f"(/baseline {report['scoped']['p50_over_baseline']}); "
        f"target < {TARGET_MS:.0f} ms: {'OK' if cold['p50_ms'] < TARGET_MS else 'NOT MET'}"
    )
    return 0 if cold["p50_ms"] < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
