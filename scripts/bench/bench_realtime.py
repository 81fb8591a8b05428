#!/usr/bin/env python
"""Websocket benchmark: N concurrent authenticated connections on ONE daphne process (Redis channel layer).

Measures ping ack latency (p50/p99), delivery latency of chat.send to a room holding every connection
(p50/p99 over all receivers), and the daphne process's memory per connection.

It prepares its own world and removes it afterwards: a PostgreSQL database, a Redis key prefix, signing keys,
N users with one real session each. Needs PostgreSQL and Redis (scripts/services.sh start).

    .venv/bin/python scripts/bench/bench_realtime.py [--connections 500] [--pings 10] [--messages 20]
"""

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import percentile  # noqa: E402  (the benchmarks' shared helpers, beside this file)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50) * 1000, 3),
        "p99_ms": round(percentile(samples, 99) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3) if samples else float("nan"),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3) if samples else float("nan"),
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_environment(args: argparse.Namespace, run_id: str, keys_dir: str) -> dict[str, str]:
    base = urlsplit(args.database_url)
    database = f"bench_realtime_{run_id}"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOT_ENV": "false",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": f"bench-{run_id}-not-for-production",
        "DATABASE_URL": urlunsplit((base.scheme, base.netloc, f"/{database}", base.query, "")),
        "REDIS_URL": args.redis_url,
        "CACHE_KEY_PREFIX": f"bench{run_id}",
        "DEV_KEYS_DIR": keys_dir,
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "MONGODB_URL": args.mongodb_url,
    }
    os.environ.update(env)
    return env


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django_and_users(count: int) -> list[str]:
    """Migrate, create `count` users and one real session each; the access tokens."""
    import django

    django.setup()
    from asgiref.sync import async_to_sync
    from django.core.management import call_command

    from apps.accounts.models import User
    from apps.accounts.services.auth import ClientInfo, session_start

    call_command("migrate", verbosity=0, interactive=False)
    users = User.objects.bulk_create([User(username=f"bench-{i:04d}", password="!") for i in range(count)])

    async def sessions() -> list[str]:
        from apps.accounts.auth import authenticate_token

        tokens = []
        for user in users:
            pair = await session_start(user=user, client=ClientInfo(ip="127.0.0.1", user_agent="bench"))
            # Warms the cached permission set, as a user's first API call would; the bench measures sockets.
            await authenticate_token(pair.access_token)
            tokens.append(pair.access_token)
        return tokens

    return async_to_sync(sessions)()


def start_daphne(env: dict[str, str], port: int, log_path: Path, profile: Path | None) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, **env}
    log = log_path.open("wb")
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    process = subprocess.Popen(
        [sys.executable, *profiler, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("daphne did not start")


async def run_benchmark(args: argparse.Namespace, tokens: list[str], port: int, pid: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/"
    result: dict[str, Any] = {"connections": len(tokens)}

    # Warm-up: imports, first ORM connection, channel-layer pools.
    async with connect(f"{url}?token={tokens[0]}") as ws:
        await ws.send(json.dumps({"event": "ping", "id": "w"}))
        await ws.recv()
    await asyncio.sleep(0.5)
    rss_before = rss_kib(pid)

    gate = asyncio.Semaphore(args.connect_concurrency)
    connect_times: list[float] = []

    async def open_one(token: str) -> Any:
        async with gate:
            started = time.perf_counter()
            ws = await connect(f"{url}?token={token}", open_timeout=60, ping_interval=None, max_queue=None)
            await ws.send(json.dumps({"event": "ping", "id": "hello"}))
            assert json.loads(await ws.recv())["data"] == "pong"  # authenticated and dispatching
            connect_times.append(time.perf_counter() - started)
            return ws

    started = time.perf_counter()
    sockets = await asyncio.gather(*(open_one(token) for token in tokens))
    result["connect_all_s"] = round(time.perf_counter() - started, 3)
    result["connect"] = summary(connect_times)
    await asyncio.sleep(1)
    rss_after = rss_kib(pid)
    result["rss_before_mib"] = round(rss_before / 1024, 1)
    result["rss_after_mib"] = round(rss_after / 1024, 1)
    result["memory_per_connection_kib"] = round((rss_after - rss_before) / len(sockets), 1)

    # Ping, unloaded: one ping at a time.
    sequential: list[float] = []
    for i in range(args.sequential_pings):
        ws = sockets[i % len(sockets)]
        started = time.perf_counter()
        await ws.send(json.dumps({"event": "ping", "id": f"s{i}"}))
        await ws.recv()
        sequential.append(time.perf_counter() - started)
    result["ping_sequential"] = summary(sequential)

    # Ping, loaded: every connection pings `pings` times back to back, all at once.
    concurrent: list[float] = []

    async def pinger(ws: Any, n: int) -> None:
        for i in range(n):
            started = time.perf_counter()
            await ws.send(json.dumps({"event": "ping", "id": f"c{i}"}))
            await ws.recv()
            concurrent.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(pinger(ws, args.pings) for ws in sockets))
    elapsed = time.perf_counter() - started
    result["ping_concurrent"] = summary(concurrent)
    result["ping_concurrent_throughput_per_s"] = round(len(concurrent) / elapsed)

    if args.idle_only:
        await asyncio.gather(*(ws.close() for ws in sockets))
        return result

    # This client is Python too: its own full collections (its heap holds Django and every socket) would show
    # up as server latency.
    gc.collect()
    gc.freeze()

    # Chat: everyone joins one room; one sender sends `messages` messages, spaced so they do not overlap.
    for ws in sockets:
        await ws.send(json.dumps({"event": "room.join", "id": "j", "data": {"room": "bench"}}))
    for ws in sockets:
        assert json.loads(await ws.recv())["event"] == "ack"

    delivery: list[float] = []
    fanout_complete: list[float] = []
    sender = sockets[0]
    # The first broadcasts are not measured: the first of anything on a fresh process pays for lazy set-up.
    for m in range(-args.warmup_messages, args.messages):
        text = f"m{m}-{uuid.uuid4().hex[:6]}"
        arrivals: list[float] = []

        async def wait_for_message(ws: Any, text: str = text, arrivals: list[float] = arrivals) -> None:
            while True:
                frame = json.loads(await ws.recv())
                if frame["event"] == "chat.message" and frame["data"]["text"] == text:
                    arrivals.append(time.perf_counter())
                    return

        waiters = [asyncio.ensure_future(wait_for_message(ws)) for ws in sockets]
        await asyncio.sleep(0)
        sent = time.perf_counter()
        await sender.send(json.dumps({"event": "chat.send", "data": {"room": "bench", "text": text}}))
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)
        if m >= 0:
            delivery.extend(arrival - sent for arrival in arrivals)
            fanout_complete.append(max(arrivals) - sent)
        await asyncio.sleep(args.message_gap)
    result["chat_delivery"] = summary(delivery)
    result["chat_fanout_complete"] = summary(fanout_complete)
    result["chat_fanout_each_ms"] = [round(t * 1000, 1) for t in fanout_complete]
    # Against the same run's single-socket round trip: what each extra receiver adds to the last one's wait.
    result["per_receiver_us"] = round(
        (percentile(fanout_complete, 50) - percentile(sequential, 50)) / len(sockets) * 1e6, 1
    )

    await asyncio.gather(*(ws.close() for ws in sockets))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--pings", type=int, default=10, help="pings per connection in the concurrent phase")
    parser.add_argument("--sequential-pings", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20, help="chat.send messages to the room of everyone")
    parser.add_argument("--message-gap", type=float, default=0.1, help="seconds between chat messages")
    parser.add_argument("--warmup-messages", type=int, default=2, help="chat messages sent before measuring")
    parser.add_argument(
        "--idle-only", action="store_true", help="open the connections, measure memory and pings, skip the chat"
    )
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    # A database of its own: a test run's cache.clear() flushes its whole database, sessions included.
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--mongodb-url", default="", help="unset: the in-memory fallback (not on this path)")
    parser.add_argument("--daphne-log", type=Path, help="keep the server's output in this file")
    parser.add_argument("--profile", type=Path, help="run the server under cProfile and write the stats here")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections * 2 + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections * 4 + 1000), hard))

    run_id = uuid.uuid4().hex[:10]
    keys_dir = tempfile.mkdtemp(prefix="bench-keys-")
    env = prepare_environment(args, run_id, keys_dir)
    database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
    create_database(args.database_url, database)
    process = None
    log_path = args.daphne_log or Path(keys_dir) / "daphne.log"
    try:
        tokens = setup_django_and_users(args.connections)
        port = free_port()
        process = start_daphne(env, port, log_path, args.profile)
        result = asyncio.run(run_benchmark(args, tokens, port, process.pid))
        result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    except BaseException:
        if log_path.exists():
            print(f"--- daphne log (tail) ---\n{log_path.read_text(errors='replace')[-4000:]}", file=sys.stderr)
        raise
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        from django.db import connections

        connections.close_all()
        drop_database(args.database_url, database)
        try:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for pattern in (f"{env['CACHE_KEY_PREFIX']}*", f"asgi:{env['CACHE_KEY_PREFIX']}*"):
                for key in client.scan_iter(pattern, count=1000):
                    client.delete(key)
        finally:
            shutil.rmtree(keys_dir, ignore_errors=True)

    if args.json:
        print(json.dumps(result))
        return 0
    print(json.dumps(result, indent=2))
    print(f"\n{result['connections']} connections on one daphne process")
    print(
        f"  memory per connection   {result['memory_per_connection_kib']} KiB "
        f"(RSS {result['rss_before_mib']} -> {result['rss_after_mib']} MiB)\n"
        f"  ping (one at a time)    p50 {result['ping_sequential']['p50_ms']} ms, "
        f"p99 {result['ping_sequential']['p99_ms']} ms\n"
        f"  ping (all at once)      p50 {result['ping_concurrent']['p50_ms']} ms, "
        f"p99 {result['ping_concurrent']['p99_ms']} ms, {result['ping_concurrent_throughput_per_s']} acks/s"
    )
    if args.idle_only:
        return 0
    p99 = result["chat_delivery"]["p99_ms"]
    print(
        f"  chat.send -> room of {result['connections']}: delivery p50 {result['chat_delivery']['p50_ms']} ms, "
        f"p99 {p99} ms (target < 100 ms{'' if p99 < 100 else ' !'}); "
        f"last receiver p50 {result['chat_fanout_complete']['p50_ms']} ms; "
        f"{result['per_receiver_us']} us per receiver over one ping round trip"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
