"""The fixed cost of a request against the server's own limit, in one daphne process (production settings).

The process also serves /bench/bare: a plain ASGI route answering /health's body without Django (mounted by
config/asgi.py only when BENCH_BARE_ROUTE=true). Medians of interleaved wrk rounds (one wrk thread), targets:

- GET /api/v1/health        >= 0.50 x  /bench/bare
- GET /api/v1/auth/user/info >= 0.85 x  /api/v1/health   (token, live session and cached state: one Redis trip)
- GET /api/v1/roles          >= 0.80 x  /api/v1/health   (a cached role page)

With --profile, py-spy samples the process during a load of /auth/user/info, once with this handler and once
with Django's own (scripts/bench/stock_asgi.py), and prints the top frames of each.

    .venv/bin/python scripts/bench/bench_baseline.py [--rounds 5] [--seconds 6] [--profile]
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, bench_environment, compare, daphne, django_snippet, throughput

TARGETS = {"health / bare": 0.5, "user info / health": 0.85, "roles / health": 0.8}
TOKEN = """
from apps.accounts.models import User
from tests.helpers import tokens_for
pair = asyncio.run(tokens_for(User.objects.get(username="admin"), user_agent="bench-baseline"))
print(json.dumps({"access": pair.access_token}))
"""


def check_bare_route(base: str) -> None:
    bare, health = httpx.get(f"{base}/bench/bare"), httpx.get(f"{base}/api/v1/health")
    assert bare.status_code == health.status_code == 200
    assert bare.content == health.content, (bare.text, health.text)


@contextmanager
def stock_daphne(env: dict[str, str]) -> Any:
    """daphne serving Django's own handler (the harness's helper serves config.asgi)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "scripts" / "bench")])}
    args = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "stock_asgi:application"]
    process = subprocess.Popen(args, cwd=ROOT, env=app_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("daphne (stock handler) did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def top_frames(pid: int, url: str, headers: dict[str, str], seconds: int = 10, limit: int = 12) -> list[str]:
    """py-spy samples of `pid` during a load of url: the functions in most samples (inclusive), as lines."""
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    out = Path(tempfile.mkdtemp(prefix="profile-")) / "stacks.txt"
    recorder = subprocess.Popen(
        [py_spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    loader = threading.Thread(target=throughput, args=(url,), kwargs={"headers": headers, "seconds": seconds})
    loader.start()
    loader.join()
    recorder.wait(timeout=seconds + 30)
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("asyncio" in f or "twisted" in f for f in frames):
            continue  # the event loop's thread only (py-spy also samples idle pool threads)
        total += int(count)
        for name in {f.split(" (")[0] for f in frames}:
            inclusive[name] += int(count)
        # Where the sample was taken (its innermost frame), by top-level package or module.
        where = frames[-1].rpartition(" (")[2].split(":")[0].split("/")[0]
        packages[where.removesuffix(".py")] += int(count)
    shutil.rmtree(out.parent, ignore_errors=True)
    if not total:
        return ["(no samples)"]
    # The event loop and reactor frames under every sample say nothing about a request's cost.
    rows = [(name, n) for name, n in inclusive.most_common() if n < 0.97 * total and name not in LOOP_FRAMES]
    lines = [f"{100 * n / total:5.1f}%  {name}" for name, n in rows[:limit]]
    shares = ", ".join(f"{k} {100 * n / total:.0f}%" for k, n in packages.most_common(6))
    lines.append(f"self time by package: {shares}")
    return lines


LOOP_FRAMES = {
    "<module>",
    "_run_module_as_main",
    "_run_code",
    "CommandLineInterface.entrypoint",
    "CommandLineInterface.run",
    "Server.run",
    "AsyncioSelectorReactor.run",
    "BaseEventLoop.run_forever",
    "BaseEventLoop._run_once",
    "Handle._run",
    "callWithLogger",
    "callWithContext",
    "ThreadedContextTracker.callWithContext",
    "ContextTracker.callWithContext",
    "AsyncioSelectorReactor._readOrWrite",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("note: wrk is not installed; the harness falls back to an httpx loop (slower, noisier)")

    with bench_environment({"BENCH_BARE_ROUTE": "true"}) as env:
        auth = {"Authorization": "Bearer " + django_snippet(env, TOKEN)["access"]}
        results: dict[str, tuple[float, float]] = {}
        with daphne(env) as (base, pid):
            check_bare_route(base)
            for name, baseline, candidate, headers in (
                ("health / bare", "/bench/bare", "/api/v1/health", {}),
                ("user info / health", "/api/v1/health", "/api/v1/auth/user/info", auth),
                ("roles / health", "/api/v1/health", "/api/v1/roles", auth),
            ):
                results[name] = compare(base, baseline, candidate, headers, rounds=args.rounds, seconds=args.seconds)
            if args.profile:
                after = top_frames(pid, f"{base}/api/v1/auth/user/info", auth)
        if args.profile:
            with stock_daphne(env) as (stock_base, stock_pid):
                before = top_frames(stock_pid, f"{stock_base}/api/v1/auth/user/info", auth)

    print(f"\nmedians of {args.rounds} interleaved rounds of {args.seconds} s, 16 connections, one wrk thread")
    print(f"{'ratio':<20} {'baseline req/s':>15} {'candidate req/s':>16} {'ratio':>7} {'target':>7}")
    failed = []
    for name, (base_rps, cand_rps) in results.items():
        ratio = cand_rps / base_rps
        ok = ratio >= TARGETS[name]
        failed += [] if ok else [name]
        print(f"{name:<20} {base_rps:>15.0f} {cand_rps:>16.0f} {ratio:>7.2f} {TARGETS[name]:>6.2f}{'' if ok else ' !'}")
    if args.profile:
        print("\nGET /auth/user/info, event loop thread, share of samples (inclusive)")
        print("before (Django's ASGIHandler):")
        print("\n".join("  " + row for row in before))
        print("after (apps/core/asgi.py):")
        print("\n".join("  " + row for row in after))
    if failed:
        print("\nbelow target: " + ", ".join(failed))


if __name__ == "__main__":
    main()
