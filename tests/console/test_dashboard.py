"""The admin dashboard: figures from seeded MongoDB/Redis/SQL data, links, permission gating, outages, caching."""

import math
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import Client

from apps.accounts.models import User
from apps.accounts.sessions import session_create
from apps.audit.documents import COLLECTIONS
from apps.audit.records import new_record_id
from apps.audit.writer import get_writer
from apps.console import dashboard, rollups, selectors
from apps.console.rollups import floor
from apps.core import mongo
from apps.org.scope import Scope
from apps.scheduler import documents as run_documents
from apps.storage.models import StoredFile
from tests.factories import UserFactory
from tests.helpers import grant

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
OPS = "/admin/audit/operationlogentry/"
LOGINS = "/admin/audit/loginlogentry/"
RUNS = "/admin/scheduler/taskrunentry/"
ONLINE = "/admin/console/onlineuser/"
FILES = "/admin/storage/storedfile/"


@pytest.fixture
def db() -> Iterator[Any]:
    """This run's MongoDB database with empty logs, task runs and rollups (buffered logs written first)."""
    assert get_writer().flush(timeout=15)

    def clear() -> None:
        database = mongo.database()  # looked up each time: a test may reconnect
        for name in (*COLLECTIONS.values(), run_documents.TaskRun._meta["collection"], rollups.COLLECTION):
            database[name].delete_many({})

    clear()
    yield mongo.database()
    clear()


def _now() -> datetime:
    # Half past the current hour: every seeded offset below falls in a known bar whatever the clock says.
    return floor(datetime.now(UTC), "hour") + timedelta(minutes=30)


def _operation(at: datetime, status: int, duration: float | None) -> dict[str, Any]:
    return {
        "_id": new_record_id(),
        "method": "POST",
        "path": "/api/v1/things",
        "status": status,
        "duration_ms": duration,
        "created_at": at,
    }


def _login(at: datetime, success: bool) -> dict[str, Any]:
    return {"_id": new_record_id(), "username": "alice", "success": success, "reason": "ok", "created_at": at}


def _run(at: datetime, status: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": uuid.uuid4().hex, "task": "scheduler.ping", "status": status, "queued_at": at, **fields}


def _user(**fields: Any) -> User:
    return cast(User, UserFactory(**fields))


def _seed_operations(db: Any, now: datetime) -> list[float]:
    """Calls in three hours of the window and one before it; returns the durations inside the window."""
    ops = db[COLLECTIONS["operation"]]
    docs = []
    durations = []
    # 5 hours ago: 100 calls, durations 1..100 ms, 10 of them 5xx and 20 of them 4xx.
    for i in range(100):
        status = 500 if i < 10 else 404 if i < 30 else 201
        durations.append(float(i + 1))
        docs.append(_operation(now - timedelta(hours=5, minutes=i % 50), status, float(i + 1)))
    # 2 hours ago: 10 calls of 300 ms, 1 of them 503.
    for i in range(10):
        durations.append(300.0)
        docs.append(_operation(now - timedelta(hours=2, seconds=i), 503 if i == 0 else 200, 300.0))
    # In the open tail (a few seconds ago): 2 calls, one 401, one without a duration.
    docs.append(_operation(now - timedelta(seconds=5), 401, 12.0))
    durations.append(12.0)
    docs.append(_operation(now - timedelta(seconds=3), 200, None))
    # Before the window: not counted.
    docs.append(_operation(now - timedelta(hours=30), 500, 5000.0))
    ops.insert_many(docs)
    return durations


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_operation_figures_count_per_hour_and_read_p95_from_the_histogram(db):
    now = _now()
    durations = _seed_operations(db, now)
    figures = selectors.operation_figures(now=now)
    hours = {h["start"]: h for h in figures["hours"]}
    assert len(figures["hours"]) == 24 and figures["since"] == floor(now, "hour") - timedelta(hours=23)
    five = hours[floor(now - timedelta(hours=5, minutes=25), "hour")]
    # The 100 calls of "5 hours ago" span minutes 30..-19 of that hour: they fall in two bars.
    five_before = hours[floor(now - timedelta(hours=5, minutes=49), "hour")]
    assert five["total"] + five_before["total"] == 100
    assert five["server_errors"] + five_before["server_errors"] == 10
    assert five["client_errors"] + five_before["client_errors"] == 20
    two = hours[floor(now - timedelta(hours=2), "hour")]
    assert (two["total"], two["server_errors"], two["client_errors"]) == (10, 1, 0)
    current = hours[floor(now, "hour")]
    assert (current["total"], current["client_errors"]) == (2, 1)
    assert (figures["total"], figures["server_errors"], figures["client_errors"]) == (112, 11, 21)

    exact = _nearest_rank(durations, 95)
    p95 = figures["p95"]
    assert p95["low"] <= exact < p95["high"] and p95["low"] <= p95["value"] <= p95["high"]
    assert p95["high"] / p95["low"] == pytest.approx(10 ** (1 / selectors.BUCKETS_PER_DECADE))


def test_figures_come_from_stored_rollups_once_units_close(db):
    now = _now()
    _seed_operations(db, now)
    first = selectors.operation_figures(now=now)
    stored = db[rollups.COLLECTION]
    counts = {unit: stored.count_documents({"series": "ops", "unit": unit}) for unit in ("hour", "10min", "minute")}
    # 23 closed hours, then in the open hour (now is hh:30) two closed 10-minute bins and the minutes
    # hh:20..hh:28 that closed a GRACE ago.
    assert counts == {"hour": 23, "10min": 2, "minute": 9}
    # The stored counts answer again even when the logs behind them are gone (so they were not re-read) ...
    db[COLLECTIONS["operation"]].delete_many({"created_at": {"$lt": now - timedelta(hours=1)}})
    again = selectors.operation_figures(now=now)
    assert again["hours"] == first["hours"] and again["p95"] == first["p95"]
    # ... while the open tail is read from the logs every time.
    db[COLLECTIONS["operation"]].insert_one(_operation(now - timedelta(seconds=1), 500, 1.0))
    later = selectors.operation_figures(now=now)
    assert later["total"] == first["total"] + 1 and later["server_errors"] == first["server_errors"] + 1


def test_a_scoped_reach_counts_its_users_only_from_rollups_of_its_own(db):
    alice, bob = _user(), _user()
    now = _now()
    ops = db[COLLECTIONS["operation"]]
    for user, n in ((alice, 10), (bob, 5)):
        ops.insert_many([{**_operation(now - timedelta(hours=5), 500, 3.0), "user_id": str(user.pk)} for _ in range(n)])
    reach = selectors.Reach(Scope(everything=False, departments=frozenset(), user_id=str(alice.pk)))
    first = selectors.operation_figures(now=now, reach=reach)
    assert (first["total"], first["server_errors"]) == (10, 10)
    assert selectors.operation_figures(now=now)["total"] == 15  # everyone's rollups are apart
    series = {doc["series"] for doc in db[rollups.COLLECTION].find({}, {"series": 1})}
    assert "ops" in series and len(series) == 2 and all(name.startswith("ops") for name in series)
    # Its closed units are stored: removing alice's logs of five hours ago changes nothing on the next read.
    ops.delete_many({"user_id": str(alice.pk)})
    assert selectors.operation_figures(now=now, reach=reach)["total"] == 10
    # Another set of users has units of its own.
    both = selectors.Reach(Scope(everything=False, departments=frozenset({0}), user_id=str(alice.pk)))
    both.__dict__["user_ids"] = [str(alice.pk), str(bob.pk)]  # the ids a scope of both would read
    assert selectors.operation_figures(now=now, reach=both)["total"] == 5  # alice's are gone, bob's 5 remain


def test_sign_in_figures_count_per_utc_day(db):
    now = _now()
    logins = db[COLLECTIONS["login"]]
    docs = [_login(now - timedelta(minutes=1), True) for _ in range(3)]
    docs += [_login(now - timedelta(days=1), False) for _ in range(2)]
    docs += [_login(now - timedelta(days=3), True), _login(now - timedelta(days=3), False)]
    docs += [_login(now - timedelta(days=13), True)]
    docs += [_login(now - timedelta(days=15), False)]  # outside the 14 days
    logins.insert_many(docs)
    figures = selectors.sign_in_figures(now=now)
    days = {d["start"]: (d["success"], d["failure"]) for d in figures["days"]}
    assert len(days) == 14 and figures["since"] == floor(now, "day") - timedelta(days=13)
    assert days[floor(now, "day")] == (3, 0)
    assert days[floor(now - timedelta(days=1), "day")] == (0, 2)
    assert days[floor(now - timedelta(days=3), "day")] == (1, 1)
    assert days[floor(now - timedelta(days=13), "day")] == (1, 0)
    assert (figures["success"], figures["failure"]) == (5, 3)
    # Missing days are counted hour by hour (short aggregations), then stored as days.
    stored = db[rollups.COLLECTION]
    assert stored.count_documents({"series": "logins", "unit": "day"}) == 13
    # (Hours older than 3 days are left to the TTL index once their day is stored.)
    today = {"series": "logins", "unit": "hour", "start": {"$gte": floor(now, "day")}}
    assert stored.count_documents(today) == now.hour
    assert stored.count_documents({"series": "logins", "unit": "10min"}) == 2


def test_task_run_figures_by_status_follow_runs_that_finish_later(db):
    now = _now()
    runs = run_documents.collection()
    failed = _run(now - timedelta(hours=3), "FAILURE", error="ValueError: boom")
    pending = _run(now - timedelta(hours=4), "PENDING")
    runs.insert_many(
        [
            *[_run(now - timedelta(hours=h), "SUCCESS") for h in (1, 2, 2, 6)],
            failed,
            pending,
            _run(now - timedelta(seconds=2), "STARTED"),
            _run(now - timedelta(hours=30), "FAILURE"),  # outside the window
        ]
    )
    figures = selectors.task_run_figures(now=now)
    assert figures["by_status"] == {"PENDING": 1, "STARTED": 1, "SUCCESS": 4, "FAILURE": 1, "RETRY": 0}
    assert [(f["task_id"], f["error"]) for f in figures["recent_failures"]] == [(failed["task_id"], "ValueError: boom")]
    # The pending run is kept by id beside the stored counts: when it ends, the figures follow.
    assert db[rollups.COLLECTION].count_documents({"series": "runs", "open": pending["task_id"]}) >= 1
    runs.update_one({"task_id": pending["task_id"]}, {"$set": {"status": "SUCCESS"}})
    later = selectors.task_run_figures(now=now)
    assert later["by_status"]["PENDING"] == 0 and later["by_status"]["SUCCESS"] == 5


def test_recent_failures_are_the_newest_of_the_window(db):
    now = _now()
    times = [now - timedelta(minutes=m) for m in (5, 10, 20)] + [now - timedelta(hours=10, minutes=m) for m in range(4)]
    runs = [_run(at, "FAILURE") for at in times]
    run_documents.collection().insert_many([*runs, _run(now - timedelta(minutes=1), "SUCCESS")])
    since = now - timedelta(hours=23)
    found = selectors.recent_failures(since=since, now=now)
    assert [run["task_id"] for run in found] == [run["task_id"] for run in runs[:5]]
    assert selectors.recent_failures(since=now - timedelta(minutes=15), now=now)[1]["task_id"] == runs[1]["task_id"]


def test_percentile_from_histogram_edges():
    assert selectors.percentile_from_histogram({}, 95) is None
    assert selectors.percentile_from_histogram({3: 0}, 95) is None
    single = selectors.percentile_from_histogram({20: 1}, 95)
    assert (
        single is not None and single["low"] == pytest.approx(10.0) and single["value"] == pytest.approx(single["high"])
    )
    # 95 of 100 samples in the low bucket: the 95th is the low bucket's last one.
    split = selectors.percentile_from_histogram({0: 95, 40: 5}, 95)
    assert split is not None and split["low"] == pytest.approx(1.0)


def test_live_sessions_and_storage_figures(db):
    alice, bob = _user(), _user()
    for user in (alice, alice, bob):
        async_to_sync(session_create)(user_id=str(user.pk), user_agent="pytest", ip=None, refresh_jti=uuid.uuid4().hex)
    assert selectors.live_session_count() == 3
    StoredFile.objects.create(
        owner=alice,
        bucket="b",
        object_key="k1",
        filename="a.txt",
        size=1000,
        content_type="text/plain",
        status="ready",
        strategy="single",
    )
    StoredFile.objects.create(
        owner=alice,
        bucket="b",
        object_key="k2",
        filename="b.txt",
        size=24,
        content_type="text/plain",
        status="ready",
        strategy="single",
    )
    StoredFile.objects.create(
        owner=bob,
        bucket="b",
        object_key="k3",
        filename="c.txt",
        size=10**9,
        content_type="text/plain",
        strategy="single",
    )
    assert selectors.storage_figures() == {"bytes": 1024, "files": 2, "pending": 1}


# --- the page ---------------------------------------------------------------------------------------------


def _client(**fields: Any) -> Client:
    user = _user(username=f"u-{uuid.uuid4().hex[:8]}", is_staff=True, **fields)
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def _seed_everything(db: Any) -> None:
    now = datetime.now(UTC)
    # Offsets well inside every window, so the totals hold whatever hour or day it is.
    db[COLLECTIONS["operation"]].insert_many(
        [_operation(now - timedelta(hours=3), 500 if i < 2 else 201, 10.0) for i in range(8)]
    )
    db[COLLECTIONS["login"]].insert_many([_login(now - timedelta(days=2), i < 3) for i in range(5)])
    run_documents.collection().insert_many(
        [_run(now - timedelta(hours=2), "SUCCESS"), _run(now - timedelta(hours=2), "FAILURE", error="boom")]
    )


def _cards(html: str) -> dict[str, str]:
    """{card title: card value} of the dashboard's KPI cards."""
    block = html[html.index('id="dashboard-cards"') :]
    pairs = re.findall(
        r'<p class="leading-relaxed mb-0 text-sm">\s*(.*?)\s*</p>\s*<div class="font-semibold[^"]*">\s*(.*?)\s*</div>',
        block,
        re.S,
    )
    return dict(pairs)


def _fresh_client(client: Client) -> Client:
    """The page loads afresh: no figure cached."""
    cache.delete_many([dashboard.cache_key(f) for f in dashboard.FIGURES])
    return client


def test_superuser_sees_every_figure_with_links_to_the_filtered_lists(db):
    client = _client(is_superuser=True)
    _seed_everything(db)
    html = _fresh_client(client).get(INDEX).content.decode()
    cards = _cards(html)
    assert cards["API calls, last 24 h"] == "8"
    assert cards["Server errors (5xx), last 24 h"] == "25.0 %"
    assert cards["Sign-ins, last 14 days"] == "5"
    assert cards["Task runs, last 24 h"] == "2"
    assert cards["Live sessions"] == "0" and cards["Online users now"] == "0"
    assert cards["Storage used"].startswith("0")
    links = set(re.findall(r'href="([^"]+)"', html))
    since_hours = (floor(datetime.now(UTC), "hour") - timedelta(hours=23)).strftime("%Y-%m-%dT%H%%3A%M")
    since_days = (floor(datetime.now(UTC), "day") - timedelta(days=13)).strftime("%Y-%m-%dT%H%%3A%M")
    for expected in (
        f"{OPS}?since={since_hours}",
        f"{OPS}?status=5xx&amp;since={since_hours}",
        f"{OPS}?status=4xx&amp;since={since_hours}",
        f"{LOGINS}?since={since_days}",
        f"{LOGINS}?success=false&amp;since={since_days}",
        f"{RUNS}?status=FAILURE&amp;since={since_hours}",
        f"{RUNS}?since={since_hours}",
        ONLINE,
        f"{FILES}?status__exact=ready",
    ):
        assert expected in links, expected
    failure = run_documents.collection().find_one({"status": "FAILURE"})
    assert failure is not None
    assert f"{RUNS}{failure['task_id']}/" in links
    assert 'class="chart"' in html and 'data-type="line"' in html
    # Every link of the dashboard opens for this user.
    for link in {link.replace("&amp;", "&") for link in links if link.startswith(("/admin/audit", "/admin/scheduler"))}:
        assert client.get(link).status_code == 200, link


def test_staff_sees_only_the_figures_of_lists_they_may_open(db):
    client = _client()
    async_to_sync(grant)(client.user, "GET:/api/v1/audit/logins")  # type: ignore[attr-defined]
    _seed_everything(db)
    html = _fresh_client(client).get(INDEX).content.decode()
    cards = _cards(html)
    assert set(cards) == {"Sign-ins, last 14 days"}
    assert OPS not in html and RUNS not in html and ONLINE not in html.split('id="dashboard"')[1].split("</section>")[0]
    assert "Error rate" not in html and "p95" not in html


def test_staff_without_any_figure_permission_sees_no_dashboard(db):
    client = _client()
    response = _fresh_client(client).get(INDEX)
    assert response.status_code == 200
    assert 'id="dashboard"' not in response.content.decode()


def test_dashboard_renders_when_mongodb_is_down(db, settings):
    client = _client(is_superuser=True)
    _fresh_client(client)
    settings.MONGODB_TIMEOUT_MS = 200
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    try:
        started = datetime.now(UTC)
        response = client.get(INDEX)
        elapsed = datetime.now(UTC) - started
        again = client.get(INDEX)  # "unavailable" is remembered briefly: no second wait for the timeout
    finally:
        settings.MONGODB_TIMEOUT_MS = 2000
        mongo.connect(force=True)
    assert response.status_code == 200 and again.status_code == 200
    html = response.content.decode()
    cards = _cards(html)
    for title in ("API calls, last 24 h", "Sign-ins, last 14 days", "Task runs, last 24 h", "p95 latency, last 24 h"):
        assert cards[title] == "—", title
    assert html.count("unavailable right now") >= 5 and "MongoDB does not answer" in html
    # Redis and SQL figures still show; MongoDB was waited for once, not once per figure.
    assert cards["Live sessions"] == "0" and cards["Storage used"].startswith("0")
    assert elapsed < timedelta(seconds=2)
    # Once MongoDB is back, the short-lived "unavailable" gives way to the figures.
    _seed_everything(mongo.database())
    cache.delete_many([dashboard.cache_key(f) for f in dashboard.FIGURES])
    assert _cards(client.get(INDEX).content.decode())["API calls, last 24 h"] == "8"


def test_dashboard_renders_when_redis_is_down(db, settings):
    client = _client(is_superuser=True)
    _fresh_client(client)
    _seed_everything(db)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # presence and sessions; the cache keeps its own settings
    response = client.get(INDEX)
    assert response.status_code == 200
    cards = _cards(response.content.decode())
    assert cards["Online users now"] == "—" and cards["Live sessions"] == "—"
    assert cards["API calls, last 24 h"] == "8" and cards["Storage used"].startswith("0")


def test_figures_are_cached_briefly_and_shared(db):
    first = _client(is_superuser=True)
    _fresh_client(first)
    _seed_everything(db)
    assert _cards(first.get(INDEX).content.decode())["API calls, last 24 h"] == "8"
    # A call in the open tail (a closed, stored minute would keep its stored count).
    db[COLLECTIONS["operation"]].insert_one(_operation(datetime.now(UTC) - timedelta(seconds=1), 201, 1.0))
    # Within the cache window a second user gets the same (cached) figure ...
    second = _client()
    async_to_sync(grant)(second.user, "GET:/api/v1/audit/operations")  # type: ignore[attr-defined]
    assert _cards(second.get(INDEX).content.decode())["API calls, last 24 h"] == "8"
    key = dashboard.cache_key(next(f for f in dashboard.FIGURES if f.key == "operations"))
    assert 0 < cache.ttl(key) <= dashboard.CACHE_SECONDS  # type: ignore[attr-defined]
    # ... and once it expires the new call is counted.
    cache.delete(key)
    assert _cards(first.get(INDEX).content.decode())["API calls, last 24 h"] == "9"


def test_dashboard_needs_a_staff_sign_in():
    response = Client().get(INDEX)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
