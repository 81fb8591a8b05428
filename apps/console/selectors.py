"""Reads behind the admin dashboard: MongoDB aggregations (through apps.console.rollups), Redis and SQL figures.

Every figure is computed in the database: MongoDB groups the logs and task runs (never a Python loop over
documents), PostgreSQL sums file sizes, Redis counts sessions and sockets. Results are plain data (numbers,
UTC datetimes) so they can be cached and shared by every user allowed to see them.
"""

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.db.models import Count, Q, Sum

from apps.accounts.models import User
from apps.accounts.sessions import session_key, user_sessions_key
from apps.audit.documents import COLLECTIONS
from apps.console.rollups import Counts, Series, floor, for_users, users_stage, window_counts
from apps.core import mongo
from apps.core.redis import sync_redis
from apps.realtime.presence import online_counts
from apps.scheduler import documents as run_documents
from apps.scheduler.documents import RunStatus
from apps.storage.models import StoredFile

HOURS = 24  # API calls, latency and task runs: the last 24 hourly bars, the current hour last
DAYS = 14  # sign-ins: the last 14 daily bars (UTC days), today last
# Latency histogram: BUCKETS_PER_DECADE buckets per power of ten, so a bucket's high end is 10^(1/20) ~ 1.12
# times its low end, and a percentile read from it (interpolated inside its bucket) is off by at most that ratio.
BUCKETS_PER_DECADE = 20
MIN_BUCKET = -2 * BUCKETS_PER_DECADE  # 0.01 ms and below
MAX_BUCKET = 6 * BUCKETS_PER_DECADE  # 1000 s and above
SETTLED_RUN_STATES = frozenset({RunStatus.SUCCESS.value, RunStatus.FAILURE.value})
OPEN_RUN_STATES = frozenset(status.value for status in RunStatus) - SETTLED_RUN_STATES
RECENT_FAILURES = 5
REDIS_BATCH = 500  # keys per pipeline when counting sessions

if TYPE_CHECKING:
    from apps.org.scope import Scope


class Reach:
    """Whose data the figures count: everyone, or the users in an operator's data scope (the lists' rule).

    The ids of the users in scope are read once, and only when a figure that needs them is computed.
    """

    def __init__(self, scope: "Scope | None" = None) -> None:
        self.scope = scope if scope is not None and scope.user_q() is not None else None

    @property
    def everyone(self) -> bool:
        return self.scope is None

    def users_q(self, prefix: str = "") -> Q | None:
        return None if self.scope is None else self.scope.user_q(prefix=prefix)

    @cached_property
    def user_ids(self) -> list[str] | None:
        if self.scope is None:
            return None
        from apps.org.selectors import scope_user_ids_sync

        return scope_user_ids_sync(self.scope)

    @property
    def fingerprint(self) -> str:
        """ "" for everyone; else the same for every operator with the same reach (the cache key's suffix)."""
        if self.scope is None:
            return ""
        scope = self.scope
        raw = json.dumps([scope.user_id, sorted(scope.departments), scope.whole_tree])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


EVERYONE = Reach()


def _bars(series: Series, *, start: datetime, now: datetime, bar_unit: str, reach: Reach) -> dict[datetime, Counts]:
    if reach.user_ids is not None:
        series = for_users(series, reach.user_ids)
    return window_counts(series, start=start, now=now, bar_unit=bar_unit)


def _collection(name: str) -> Any:
    return mongo.database()[name]


def _latency_bucket() -> dict[str, Any]:
    duration = "$duration_ms"
    scaled = {"$floor": {"$multiply": [{"$log10": duration}, BUCKETS_PER_DECADE]}}
    clamped = {"$max": [MIN_BUCKET, {"$min": [MAX_BUCKET, scaled]}]}
    # $log10 refuses 0 and negatives: they go to the lowest bucket; a missing duration goes to none.
    return {"$cond": [{"$gt": [duration, 0]}, clamped, {"$cond": [{"$isNumber": duration}, MIN_BUCKET, None]}]}


OPERATIONS = Series(
    name="ops",
    collection=lambda: _collection(COLLECTIONS["operation"]),
    time_field="created_at",
    fields={"c": {"$floor": {"$divide": ["$status", 100]}}, "b": _latency_bucket()},
    levels=("hour", "10min", "minute"),
)
SIGN_INS = Series(
    name="logins",
    collection=lambda: _collection(COLLECTIONS["login"]),
    time_field="created_at",
    fields={"ok": "$success"},
    levels=("day", "hour", "10min", "minute"),
)
TASK_RUNS = Series(
    name="runs",
    collection=run_documents.collection,
    time_field="queued_at",
    fields={"st": "$status"},
    levels=("hour", "10min", "minute"),
    # A run still pending, started or retrying is counted live until it ends; ended runs never change.
    open_filter={"status": {"$in": sorted(OPEN_RUN_STATES)}},
    settled_filter={"status": {"$in": sorted(SETTLED_RUN_STATES)}},
    key_field="task_id",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _hours_start(now: datetime) -> datetime:
    return floor(now, "hour") - timedelta(hours=HOURS - 1)


def _marginal(counts: Counts, name: str) -> dict[str, int]:
    prefix = f"{name}:"
    return {key[len(prefix) :]: n for key, n in counts.items() if key.startswith(prefix)}


# --- latency percentile -----------------------------------------------------------------------------------


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The [low, high) milliseconds of a latency bucket."""
    return 10 ** (bucket / BUCKETS_PER_DECADE), 10 ** ((bucket + 1) / BUCKETS_PER_DECADE)


def percentile_from_histogram(histogram: dict[int, int], q: float) -> dict[str, float] | None:
    """The q-th percentile (nearest rank) of a latency histogram, interpolated inside its bucket.

    Returns {"value", "low", "high"} (the bucket holding the rank), or None without samples.
    """
    total = sum(n for n in histogram.values() if n > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            low, high = bucket_bounds(bucket)
            # Geometric interpolation: buckets are evenly spaced on a log scale.
            fraction = (rank - seen) / count
            return {"value": low * (high / low) ** fraction, "low": low, "high": high}
        seen += count
    raise AssertionError("unreachable: the ranks add up to the total")


# --- MongoDB figures --------------------------------------------------------------------------------------


def operation_figures(*, now: datetime | None = None, reach: Reach = EVERYONE) -> dict[str, Any]:
    """Audited API calls per hour (total, 4xx, 5xx) and the p95 latency over the last 24 hourly bars."""
    now = now or _now()
    start = _hours_start(now)
    bars = _bars(OPERATIONS, start=start, now=now, bar_unit="hour", reach=reach)
    hours = []
    histogram: dict[int, int] = {}
    for hour, counts in sorted(bars.items()):
        classes = _marginal(counts, "c")
        hours.append(
            {
                "start": hour,
                "total": sum(classes.values()),
                "client_errors": classes.get("4", 0),
                "server_errors": classes.get("5", 0),
            }
        )
        for bucket, n in _marginal(counts, "b").items():
            if bucket != "none":
                histogram[int(bucket)] = histogram.get(int(bucket), 0) + n
    return {
        "since": start,
        "hours": hours,
        "total": sum(h["total"] for h in hours),
        "client_errors": sum(h["client_errors"] for h in hours),
        "server_errors": sum(h["server_errors"] for h in hours),
        "p95": percentile_from_histogram(histogram, 95),
        "computed_at": now,
    }


def sign_in_figures(*, now: datetime | None = None, reach: Reach = EVERYONE) -> dict[str, Any]:
    """Successful and failed sign-ins per UTC day, the last 14 days."""
    now = now or _now()
    start = floor(now, "day") - timedelta(days=DAYS - 1)
    bars = _bars(SIGN_INS, start=start, now=now, bar_unit="day", reach=reach)
    days = []
    for day, counts in sorted(bars.items()):
        results = _marginal(counts, "ok")
        days.append({"start": day, "success": results.get("true", 0), "failure": results.get("false", 0)})
    return {
        "since": start,
        "days": days,
        "success": sum(d["success"] for d in days),
        "failure": sum(d["failure"] for d in days),
        "computed_at": now,
    }


def task_run_figures(*, now: datetime | None = None, reach: Reach = EVERYONE) -> dict[str, Any]:
    """Task runs by status over the last 24 hourly bars (by queued time), and the latest failures."""
    now = now or _now()
    start = _hours_start(now)
    bars = _bars(TASK_RUNS, start=start, now=now, bar_unit="hour", reach=reach)
    by_status = {status.value: 0 for status in RunStatus}
    for counts in bars.values():
        for status, n in _marginal(counts, "st").items():
            by_status[status] = by_status.get(status, 0) + n
    failures = recent_failures(since=start, now=now, user_ids=reach.user_ids)
    return {
        "since": start,
        "by_status": by_status,
        "total": sum(by_status.values()),
        "recent_failures": [
            {
                "task_id": str(run.get("task_id", "")),
                "task": str(run.get("task", "")),
                "queued_at": run.get("queued_at"),
                "error": (run.get("error") or "")[:200],
            }
            for run in failures
        ],
        "computed_at": now,
    }


def recent_failures(*, since: datetime, now: datetime, user_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """The latest RECENT_FAILURES failed runs queued since `since`, newest first.

    Looked for in the last hour, then the last 6 hours, then the whole window: the server sorts every match
    before the limit, so a short span that already holds enough failures spares it a day of them.
    """
    runs = run_documents.collection()
    series = TASK_RUNS if user_ids is None else for_users(TASK_RUNS, user_ids)
    found: list[dict[str, Any]] = []
    for span in (timedelta(hours=1), timedelta(hours=6), None):
        start = since if span is None else max(since, now - span)
        found = list(
            runs.aggregate(
                [
                    {"$match": {"status": RunStatus.FAILURE.value, "queued_at": {"$gte": start}}},
                    *users_stage(series),
                    {"$sort": {"queued_at": -1}},
                    {"$limit": RECENT_FAILURES},
                    {"$project": {"_id": 0, "task_id": 1, "task": 1, "queued_at": 1, "error": 1}},
                ]
            )
        )
        if len(found) >= RECENT_FAILURES or start == since:
            break
    return found


# --- Redis and SQL figures --------------------------------------------------------------------------------


def online_figures(*, reach: Reach = EVERYONE) -> dict[str, int]:
    """Users with an open websocket now, and their sockets (the realtime presence index)."""
    counts = async_to_sync(online_counts)()
    if reach.user_ids is not None:
        mine = set(reach.user_ids)
        counts = {user_id: n for user_id, n in counts.items() if user_id in mine}
    return {"users": len(counts), "connections": sum(counts.values())}


def live_session_count(*, reach: Reach = EVERYONE) -> int:
    """Live login sessions: each active user's session index, then which of its sessions still exist.

    Two pipelined round trips per REDIS_BATCH users (SMEMBERS of each index, EXISTS of each session) instead
    of a SCAN of the whole keyspace; an index may name sessions that expired, so each one is checked.
    """
    redis = sync_redis()
    users = User.objects.filter(is_active=True)
    if (condition := reach.users_q()) is not None:
        users = users.filter(condition)
    user_ids = [str(pk) for pk in users.values_list("pk", flat=True)]
    live = 0
    for offset in range(0, len(user_ids), REDIS_BATCH):
        batch = user_ids[offset : offset + REDIS_BATCH]
        with redis.pipeline(transaction=False) as pipe:
            for user_id in batch:
                pipe.smembers(user_sessions_key(user_id))
            indexes = pipe.execute()
        sids = [sid for members in indexes for sid in members]
        if not sids:
            continue
        with redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.exists(session_key(sid))
            live += sum(int(n) for n in pipe.execute())
    return live


def storage_figures(*, reach: Reach = EVERYONE) -> dict[str, int]:
    """Bytes and files of completed uploads, and uploads still pending (one SQL aggregate)."""
    files = StoredFile.objects.all()
    if (condition := reach.users_q(prefix="owner__")) is not None:
        files = files.filter(condition)
    rows = files.values("status").annotate(files=Count("id"), size=Sum("size"))
    figures = {"bytes": 0, "files": 0, "pending": 0}
    for row in rows:
        if row["status"] == StoredFile.Status.READY:
            figures["bytes"] = int(row["size"] or 0)
            figures["files"] = int(row["files"])
        else:
            figures["pending"] += int(row["files"])
    return figures
