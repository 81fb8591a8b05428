#!/usr/bin/env python
"""Scheduling benchmark with a real worker and a real beat (database scheduler, default 5 s tick).

1. Save to first run: a schedule (every second, scheduler.ping) is saved while beat is running; measured from
   the committed save to the first run record beat's send produced (PENDING) and to that run's SUCCESS.
   Repeated --tries times, each schedule deleted before the next. Target: p50 <= 6 s.
2. Task end to queryable record: --records ping tasks, one at a time; measured from the run's `finished_at`
   (written by the worker when the task returned) to the moment a MongoDB query first returns the SUCCESS
   record. Target: <= 1 s.

It prepares its own world and removes it afterwards: a PostgreSQL database, a MongoDB database, a queue on a
Redis database of its own. Needs PostgreSQL, Redis and the MongoDB-wire server (scripts/services.sh start).

    .venv/bin/python scripts/bench/bench_scheduler.py [--tries 10] [--records 50]
"""

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import percentile  # noqa: E402  (the benchmarks' shared helpers, beside this file)


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "p50_s": round(percentile(samples, 50), 3),
        "p90_s": round(percentile(samples, 90), 3),
        "max_s": round(max(samples), 3) if samples else None,
        "mean_s": round(statistics.fmean(samples), 3) if samples else None,
    }


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def prepare_environment(args: argparse.Namespace, run_id: str) -> dict[str, str]:
    broker = with_path(args.redis_url, f"/{args.broker_db}")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOT_ENV": "false",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": f"bench-{run_id}-not-for-production",
        "DATABASE_URL": with_path(args.database_url, f"/bench_scheduler_{run_id}"),
        "REDIS_URL": args.redis_url,
        "CACHE_KEY_PREFIX": f"bench{run_id}",
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-scheduler-{run_id}",
        "MONGODB_URL": with_path(args.mongodb_url, f"/bench_scheduler_{run_id}"),
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "LOG_FORMAT": "console",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def database_admin(args: argparse.Namespace, sql: str) -> None:
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(sql)


def start(name: str, argv: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *argv],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(what)


def bench_save_to_first_run(tries: int) -> dict[str, Any]:
    from apps.scheduler.schemas import ScheduleIn
    from apps.scheduler.selectors import task_run_page_sync
    from apps.scheduler.services import schedule_create, schedule_delete

    to_sent: list[float] = []
    to_done: list[float] = []
    for n in range(tries):
        time.sleep(random.uniform(0, 5))  # land anywhere in beat's tick
        data = ScheduleIn.model_validate(
            {
                "name": f"bench-{n}-{uuid.uuid4().hex[:6]}",
                "task": "scheduler.ping",
                "schedule": {"type": "interval", "every": 1, "period": "seconds"},
            }
        )
        schedule = asyncio.run(schedule_create(data=data))
        saved = time.monotonic()

        def first_run(schedule_id: int = schedule["id"]) -> dict[str, Any] | None:
            items, _ = task_run_page_sync({"schedule": schedule_id}, offset=0, limit=1000)
            return min(items, key=lambda r: r["queued_at"]) if items else None

        run = wait_until(first_run, 60, "beat did not send the new schedule")
        to_sent.append(time.monotonic() - saved)
        task_id = run["task_id"]
        done = wait_until(
            lambda task_id=task_id: task_run_page_sync({"task_id": task_id, "status": "SUCCESS"}, offset=0, limit=1)[0],
            60,
            "the first run did not finish",
        )[0]
        to_done.append(time.monotonic() - saved)
        asyncio.run(schedule_delete(schedule_id=schedule["id"]))
        waited = (done["started_at"] - done["queued_at"]).total_seconds()
        print(
            f"  try {n + 1}: sent after {to_sent[-1]:.2f} s, finished after {to_done[-1]:.2f} s "
            f"(queued -> started {waited:.2f} s)",
            flush=True,
        )
    return {"to_first_send": summary(to_sent), "to_first_success": summary(to_done)}


def bench_end_to_queryable(count: int) -> dict[str, Any]:
    from apps.scheduler.selectors import task_run_get_sync
    from apps.scheduler.tasks import ping

    lags: list[float] = []
    for _ in range(count):
        result = ping.delay("bench")

        def visible(task_id: str = result.id) -> dict[str, Any] | None:
            record = task_run_get_sync(task_id)
            return record if record is not None and record["status"] == "SUCCESS" else None

        record = wait_until(visible, 30, "run record did not appear", interval=0.002)
        seen = datetime.now(UTC)
        lags.append((seen - record["finished_at"]).total_seconds())
    return summary(lags)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")  # never database 0 of dev/test runs
    parser.add_argument("--broker-db", type=int, default=14, help="Redis database for broker and results")
    parser.add_argument("--mongodb-url", default="mongodb://127.0.0.1:27017")
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    env = prepare_environment(args, run_id)
    database = f"bench_scheduler_{run_id}"
    logs = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    database_admin(args, f'CREATE DATABASE "{database}"')
    processes: list[subprocess.Popen[bytes]] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django_celery_beat.models import PeriodicTask

        from apps.scheduler import writer
        from apps.scheduler.tasks import ping

        call_command("migrate", verbosity=0, interactive=False)
        queue = env["CELERY_TASK_DEFAULT_QUEUE"]
        processes.append(
            start("worker", ["worker", "-l", "warning", "-c", "2", "-Q", queue, "-n", f"{queue}@%h"], env, logs)
        )
        processes.append(start("beat", ["beat", "-l", "warning", "-s", str(logs / "beat-schedule")], env, logs))
        ping.delay().get(timeout=120)
        wait_until(lambda: PeriodicTask.objects.filter(name="celery.backend_cleanup").exists(), 120, "beat start")

        print(
            f"save -> first run ({args.tries} tries, beat tick {os.environ.get('CELERY_BEAT_MAX_LOOP_INTERVAL', 5)} s)"
        )
        first_run = bench_save_to_first_run(args.tries)
        print(f"task end -> queryable record ({args.records} tasks)")
        queryable = bench_end_to_queryable(args.records)
        writer.flush(5)
        report = {"save_to_first_run": first_run, "task_end_to_queryable_record": queryable}
        print(json.dumps(report, indent=2))
        ok = first_run["to_first_send"]["p50_s"] <= 6 and queryable["max_s"] <= 1
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1
    finally:
        for process in processes:
            stop(process)
        try:
            import redis

            client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
            queue = env["CELERY_TASK_DEFAULT_QUEUE"]
            client.delete(queue, f"_kombu.binding.{queue}")
        except Exception as exc:
            print(f"could not remove the queue: {exc!r}", file=sys.stderr)
        try:
            from apps.core import mongo

            mongo.database().client.drop_database(mongo.database().name)
        except Exception as exc:
            print(f"could not drop the MongoDB database: {exc!r}", file=sys.stderr)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        database_admin(args, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        print(f"logs: {logs}")


if __name__ == "__main__":
    sys.exit(main())
