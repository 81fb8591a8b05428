"""Per-request overhead of operation logging, measured in one process and one run.

Two ASGI handlers are built from the same settings, one with OperationLogMiddleware and one without; they
serve the same audited request (a JSON POST, so every request becomes an operation log) in alternating
rounds, so drift of the machine affects both alike. The writer's flusher thread runs and writes to MongoDB
during the "with" rounds, so its CPU cost is part of the figure.

    overhead per request = 1 / throughput(with) - 1 / throughput(without)

and the difference of the median latencies is printed next to it. Needs a MongoDB (MONGODB_URL, default a
throw-away database on 127.0.0.1:27017, dropped at the end).

    .venv/bin/python scripts/bench/bench_audit.py [--requests 4000] [--rounds 8] [--limit-ms 1.0]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_READ_DOT_ENV", "false")
os.environ.setdefault("API_TEST_ROUTES", "true")  # the /_test/echo route: a JSON POST with no database work
os.environ.setdefault("LOG_LEVEL", "ERROR")
os.environ.setdefault("MONGODB_URL", f"mongodb://127.0.0.1:27017/bench_audit_{os.getpid()}")
os.environ.setdefault("AUDIT_SPOOL", "file")
os.environ.setdefault("AUDIT_SPOOL_DIR", f"/tmp/bench-audit-spool-{os.getpid()}")

AUDIT_MIDDLEWARE = "apps.audit.middleware.OperationLogMiddleware"
BODY = json.dumps({"name": "bench", "count": 1, "password": "not-stored"}).encode()
USER_AGENT = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def _scope() -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/_test/echo",
        "raw_path": b"/api/v1/_test/echo",
        "query_string": b"page=1",
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"user-agent", USER_AGENT),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app) -> int:
    sent = False
    status = 0
    never = asyncio.Event()

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(), receive, send)
    return status


async def _round(app, count: int) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        status = await _call(app)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"unexpected status {status}")
    return time.perf_counter() - started, latencies


async def _bench(with_audit, without_audit, *, requests: int, rounds: int) -> dict:
    per_round = max(1, requests // rounds)
    await _round(with_audit, 200)  # warm-up: imports, caches, the writer thread, MongoDB indexes
    await _round(without_audit, 200)
    totals = {"with": 0.0, "without": 0.0}
    latencies: dict[str, list[float]] = {"with": [], "without": []}
    pair_overheads = []  # per round pair: the machine's load drifts, a pair sees the same load
    for index in range(rounds):
        order = [("with", with_audit), ("without", without_audit)]
        if index % 2:
            order.reverse()
        elapsed: dict[str, float] = {}
        for name, app in order:
            elapsed[name], lat = await _round(app, per_round)
            totals[name] += elapsed[name]
            latencies[name].extend(lat)
        pair_overheads.append((elapsed["with"] - elapsed["without"]) / per_round * 1000)
    served = per_round * rounds
    throughput = {name: served / totals[name] for name in totals}
    p50 = {name: statistics.median(latencies[name]) * 1000 for name in latencies}
    return {
        "requests_per_mode": served,
        "rounds": rounds,
        "throughput_rps": {k: round(v, 1) for k, v in throughput.items()},
        "throughput_ratio": round(throughput["with"] / throughput["without"], 4),
        "overhead_ms_from_throughput": round((1 / throughput["with"] - 1 / throughput["without"]) * 1000, 4),
        "overhead_ms_median_of_round_pairs": round(statistics.median(pair_overheads), 4),
        "p50_ms": {k: round(v, 4) for k, v in p50.items()},
        "overhead_ms_p50": round(p50["with"] - p50["without"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="requests per mode")
    parser.add_argument("--rounds", type=int, default=40, help="alternating round pairs")
    parser.add_argument("--limit-ms", type=float, default=1.0, help="fail when the overhead reaches this")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    from apps.audit.documents import COLLECTIONS
    from apps.audit.writer import get_writer
    from apps.core import mongo

    if AUDIT_MIDDLEWARE not in settings.MIDDLEWARE:
        print("OperationLogMiddleware is not in MIDDLEWARE", file=sys.stderr)
        return 2
    with override_settings(ALLOWED_HOSTS=["localhost"]):
        with_audit = ASGIHandler()
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != AUDIT_MIDDLEWARE]):
            without_audit = ASGIHandler()
        db = mongo.database()
        try:
            result = asyncio.run(_bench(with_audit, without_audit, requests=args.requests, rounds=args.rounds))
            flushed = get_writer().flush(timeout=60)
            stored = db[COLLECTIONS["operation"]].count_documents({})
            result["operation_logs_stored"] = stored
            result["all_written"] = flushed
            stats = get_writer().stats
            result["writer_thread_cpu_ms_per_record"] = round(stats.cpu_seconds / max(1, stats.written) * 1000, 4)
        finally:
            get_writer().close()
            db.client.drop_database(db.name)

    print(json.dumps(result, indent=2))
    overhead = max(result["overhead_ms_p50"], result["overhead_ms_median_of_round_pairs"])
    verdict = "OK" if overhead < args.limit_ms else "TOO SLOW"
    print(
        f"audit overhead per request: {result['overhead_ms_median_of_round_pairs']:.3f} ms (throughput, median of "
        f"round pairs), {result['overhead_ms_from_throughput']:.3f} ms (throughput, totals), "
        f"{result['overhead_ms_p50']:.3f} ms (p50 latency); limit {args.limit_ms} ms: {verdict}"
    )
    return 0 if overhead < args.limit_ms and flushed else 1


if __name__ == "__main__":
    raise SystemExit(main())
