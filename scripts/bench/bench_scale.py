"""How the cost of list and permission-checked calls grows with the data: one daphne process (production
settings), a throwaway PostgreSQL database and MongoDB database, seeded step by step while the server runs.

At each size it prints the p50 of sequential calls (one client, so the figure is the call's own cost):

- GET /api/v1/users?page=<last>                      (the deepest page of the user list)
- GET /api/v1/audit/operations?method=POST&status=201 (filtered operation logs, newest first)
- GET /api/v1/roles?page_size=1                      (a permission-checked call as a role holder)

and the growth of each p50 from the smallest size, next to the growth of log(n). A call grows no faster than
log(n) when its ratio stays at or under log(n)/log(n0).

    .venv/bin/python scripts/bench/bench_scale.py [--users 1000,10000,100000] [--logs 100000,1000000] [--calls 30]
"""

import argparse
import datetime
import math
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_environment, daphne, django_snippet

SEED_USERS = """
from apps.accounts.models import User
start, count = {start}, {count}
batch = 5000
for first in range(start, start + count, batch):
    last = min(first + batch, start + count)
    User.objects.bulk_create(
        [User(username=f"scale-{{i:07d}}", email=f"scale-{{i}}@example.com", password="!") for i in range(first, last)]
    )
print(json.dumps(User.objects.count()))
"""

ROLE_HOLDER = """
from django.contrib.auth.models import Group
from apps.accounts.models import User
from django.contrib.auth.models import Permission
from tests.helpers import tokens_for
role = Group.objects.create(name="scale-readers")
role.permissions.add(*Permission.objects.filter(codename__in=["GET:/api/v1/roles"]))
user = User.objects.create(username="scale-reader", password="!")
user.groups.add(role)
admin = User.objects.get(username="admin")
reader = asyncio.run(tokens_for(user, user_agent="bench-scale"))
boss = asyncio.run(tokens_for(admin, user_agent="bench-scale"))
print(json.dumps({"reader": reader.access_token, "admin": boss.access_token}))
"""

METHODS = ("GET", "GET", "GET", "POST", "PATCH", "DELETE")
STATUSES = (200, 200, 201, 204, 400, 403, 404)


def seed_logs(mongodb_url: str, start: int, count: int) -> None:
    """`count` operation logs, one a second back from now, mixing methods, statuses and users."""
    from pymongo import MongoClient

    client: MongoClient[Any] = MongoClient(mongodb_url)
    collection = client.get_default_database()["operation_logs"]
    now = datetime.datetime.now(datetime.UTC)
    batch = 5000
    for first in range(start, start + count, batch):
        docs = []
        for i in range(first, min(first + batch, start + count)):
            docs.append(
                {
                    "_id": uuid.uuid4().hex,
                    "request_id": uuid.uuid4().hex,
                    "user_id": str(uuid.UUID(int=i % 997 + 1)),
                    "username": f"scale-{i % 997:07d}",
                    "method": METHODS[i % len(METHODS)],
                    "path": f"/api/v1/things/{i % 50}",
                    "route": "/api/v1/things/{id}",
                    "status": STATUSES[i % len(STATUSES)],
                    "duration_ms": 1.5,
                    "ip": "127.0.0.1",
                    "user_agent": "bench-scale",
                    "browser": "Other",
                    "os": "Other",
                    "device": "Other",
                    "query": {},
                    "body": None,
                    "body_size": 0,
                    "created_at": now - datetime.timedelta(seconds=i),
                }
            )
        collection.insert_many(docs, ordered=False)
    client.close()


def p50_ms(client: httpx.Client, url: str, headers: dict[str, str], calls: int) -> float:
    for _ in range(3):  # warm-up: caches, plans, the pool's connections
        client.get(url, headers=headers).raise_for_status()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(samples) * 1000


def last_users_page(client: httpx.Client, base: str, headers: dict[str, str]) -> str:
    first = client.get(f"{base}/api/v1/users?page=1", headers=headers)
    first.raise_for_status()
    body = first.json()
    total = (body.get("data") or body)["total"]
    return f"{base}/api/v1/users?page={max(1, math.ceil(total / 20))}"


def growth(rows: list[tuple[int, float]], name: str) -> None:
    (n0, t0), *_ = rows
    print(f"\n{name}")
    print(f"{'n':>10} {'p50 ms':>9} {'growth':>7} {'log(n)/log(n0)':>15}")
    for n, t in rows:
        bound = math.log(n) / math.log(n0)
        flag = "" if t / t0 <= bound * 1.1 else "  faster than log(n)"
        print(f"{n:>10} {t:>9.2f} {t / t0:>7.2f} {bound:>15.2f}{flag}")


def sizes(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(",") if part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=sizes, default=[1000, 10000, 100000])
    parser.add_argument("--logs", type=sizes, default=[100000, 1000000])
    parser.add_argument("--calls", type=int, default=30, help="timed calls per figure")
    args = parser.parse_args()

    users: list[tuple[int, float]] = []
    roles: list[tuple[int, float]] = []
    logs: list[tuple[int, float]] = []
    with bench_environment() as env:
        tokens = django_snippet(env, ROLE_HOLDER)
        admin = {"Authorization": "Bearer " + tokens["admin"]}
        reader = {"Authorization": "Bearer " + tokens["reader"]}
        with daphne(env) as (base, _pid), httpx.Client(timeout=60) as client:
            have = django_snippet(env, SEED_USERS.format(start=0, count=0))
            for n in args.users:
                started = time.perf_counter()
                have = django_snippet(env, SEED_USERS.format(start=have, count=max(0, n - have)))
                seeded = time.perf_counter() - started
                users.append((have, p50_ms(client, last_users_page(client, base, admin), admin, args.calls)))
                roles.append((have, p50_ms(client, f"{base}/api/v1/roles?page_size=1", reader, args.calls)))
                print(f"{have} users (seeded in {seeded:.0f} s): users?page=last {users[-1][1]:.2f} ms, ", end="")
                print(f"roles as a role holder {roles[-1][1]:.2f} ms", flush=True)
            have_logs = 0
            url = f"{base}/api/v1/audit/operations?method=POST&status=201"
            for n in args.logs:
                started = time.perf_counter()
                seed_logs(env["MONGODB_URL"], have_logs, n - have_logs)
                have_logs = n
                seeded = time.perf_counter() - started
                logs.append((n, p50_ms(client, url, admin, args.calls)))
                print(f"{n} operation logs (seeded in {seeded:.0f} s): filtered list {logs[-1][1]:.2f} ms", flush=True)
        from pymongo import MongoClient

        MongoClient(env["MONGODB_URL"]).drop_database(MongoClient(env["MONGODB_URL"]).get_default_database().name)

    print(f"\nmedians of {args.calls} sequential calls each, one client")
    growth(users, "GET /api/v1/users?page=<last>, by users")
    growth(roles, "GET /api/v1/roles?page_size=1 as a role holder (permission check), by users")
    growth(logs, "GET /api/v1/audit/operations?method=POST&status=201, by operation logs")


if __name__ == "__main__":
    main()
