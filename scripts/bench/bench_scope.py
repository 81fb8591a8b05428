"""What the data scope costs a list: GET /api/v1/users as role holders of different scopes, one daphne process
(production settings), a throwaway database with 10,000 users in 500 departments (root, 20 divisions of 24
teams each, plus the root itself and the divisions: 501 nodes).

Prints the p50 of sequential calls for each caller and its ratio to the unscoped (`all`) caller:

- all                        the unscoped list (no filter)
- department_and_below/root  every department in the IN list, every user visible (the widest filter)
- department_and_below/div   one division and its 24 teams (about 1/20 of the users)
- custom/50                  fifty chosen departments
- self                       only the caller

The target is a scoped list under 1.3x the unscoped one.

    .venv/bin/python scripts/bench/bench_scope.py [--users 10000] [--calls 50]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_environment, daphne, django_snippet

SEED = """
from django.contrib.auth.models import Group, Permission
from apps.accounts.models import RoleProfile, User
from apps.org.models import Department, RoleScope
from apps.org.services import department_create_sync
from tests.helpers import tokens_for

users = {users}
root = Department.objects.get(code="root")
divisions = [
    department_create_sync(data={{"name": f"div{{d}}", "code": f"div{{d}}", "parent": root.pk}}) for d in range(20)
]
teams = [
    department_create_sync(data={{"name": f"team{{d}}-{{t}}", "code": f"team{{d}}-{{t}}", "parent": division}})
    for d, division in enumerate(divisions)
    for t in range(24)
]
nodes = [root.pk, *divisions, *teams]
batch = []
for i in range(users):
    home = nodes[i % len(nodes)]
    batch.append(User(username=f"scope-{{i:06d}}", email=f"s{{i}}@example.com", password="!", department_id=home))
User.objects.bulk_create(batch, batch_size=5000)
read = Permission.objects.filter(codename="GET:/api/v1/users")
tokens = {{}}
for name, kind, home, chosen in (
    ("all", None, root.pk, []),
    ("below-root", "department_and_below", root.pk, []),
    ("below-division", "department_and_below", divisions[0], []),
    ("custom-50", "custom", root.pk, teams[:50]),
    ("self", "self", root.pk, []),
):
    role = Group.objects.create(name=f"scope-{{name}}")
    RoleProfile.objects.update_or_create(group=role, defaults={{"is_active": True}})
    role.permissions.set(read)
    if kind is not None:
        scope = RoleScope.objects.create(group=role, scope=kind)
        scope.departments.set(chosen)
    user = User.objects.create(username=f"caller-{{name}}", password="!", department_id=home)
    user.groups.add(role)
    tokens[name] = asyncio.run(tokens_for(user, user_agent="bench-scope")).access_token
print(json.dumps({{"tokens": tokens, "users": User.objects.count(), "departments": Department.objects.count()}}))
"""


def p50_ms(client: httpx.Client, url: str, headers: dict[str, str], calls: int) -> tuple[float, int]:
    total = 0
    for _ in range(5):  # warm-up: the cached authorization state, plans, the pool's connections
        response = client.get(url, headers=headers)
        response.raise_for_status()
        total = response.json()["data"]["total"]
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per caller and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (the machine may be shared)")
    args = parser.parse_args()
    with bench_environment() as env:
        seeded = django_snippet(env, SEED.format(users=args.users))
        print(f"{seeded['users']} users in {seeded['departments']} departments")
        with daphne(env) as (base, _pid), httpx.Client(timeout=60) as client:
            results: dict[str, list[float]] = {name: [] for name in seeded["tokens"]}
            totals: dict[str, int] = {}
            for _ in range(args.rounds):  # interleaved, so a busy moment hurts every caller alike
                for name, token in seeded["tokens"].items():
                    headers = {"Authorization": f"Bearer {token}"}
                    ms, totals[name] = p50_ms(client, f"{base}/api/v1/users?page=1", headers, args.calls)
                    results[name].append(ms)
    unscoped = statistics.median(results["all"])
    print(f"\nGET /api/v1/users?page=1, median of {args.rounds} rounds of p50 over {args.calls} calls")
    print(f"{'caller':>16} {'rows':>7} {'p50 ms':>8} {'ratio':>6}")
    worst = 0.0
    for name, samples in results.items():
        ms = statistics.median(samples)
        ratio = ms / unscoped
        if name != "all":
            worst = max(worst, ratio)
        print(f"{name:>16} {totals[name]:>7} {ms:>8.2f} {ratio:>6.2f}")
    print(f"\nworst scoped/unscoped ratio: {worst:.2f} ({'under' if worst < 1.3 else 'OVER'} the 1.3 target)")


if __name__ == "__main__":
    main()
