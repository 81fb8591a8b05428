"""The admin index's dashboard with data: sign-ins, API calls, errors, latency, task runs, sessions and storage
seeded into this module's own stores show as the KPI figures, and each figure's link opens the list it counts.

Data outside each figure's window (older sign-ins, calls and runs) is seeded too: the figures and their lists
must leave it out. The test's own admin sign-in adds one successful sign-in and one audited call (its POST),
counted in the expected figures once they are in MongoDB.
"""

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Site, shot, sign_in

pytestmark = pytest.mark.e2e

SEED = """
from datetime import UTC, datetime, timedelta
from apps.accounts.models import User
from apps.audit.documents import LoginLog, OperationLog
from apps.core.ids import new_uuid7
from apps.scheduler.documents import TaskRun
from apps.storage.models import StoredFile
from django.conf import settings
now = datetime.now(UTC)
ago = lambda **delta: now - timedelta(**delta)
member = User.objects.get(username="member")
# Sign-ins: 4 succeeded and 3 failed in the last 14 days, 3 older ones.
for success, moment in [(True, ago(hours=1)), (True, ago(days=2)), (True, ago(days=5)), (True, ago(days=10)),
                        (False, ago(minutes=30)), (False, ago(days=3)), (False, ago(days=12)),
                        (True, ago(days=20)), (True, ago(days=20)), (False, ago(days=16))]:
    LoginLog(id=str(new_uuid7()), username="member", user_id=str(member.pk), success=success,
             reason="" if success else "bad password", ip="127.0.0.1", user_agent="dashboard-seed",
             channel="api", created_at=moment).save()
# API calls: 14 in the last 24 h (3 client errors, 3 server errors, slowest 5 s), 3 older ones.
calls = [(200, 12), (200, 15), (200, 20), (200, 25), (200, 30), (200, 35), (201, 40), (201, 45),
         (404, 5), (404, 6), (403, 7), (500, 100), (500, 200), (503, 5000)]
for index, (status, ms) in enumerate(calls):
    OperationLog(id=str(new_uuid7()), request_id=f"d{index}", user_id=str(member.pk), username="member",
                 method="POST", path=f"/api/v1/seeded/{index}", route="/api/v1/seeded/{id}", status=status,
                 duration_ms=float(ms), ip="127.0.0.1", user_agent="dashboard-seed",
                 created_at=ago(minutes=10 + 80 * index)).save()
for index, status in enumerate([500, 200, 404]):
    OperationLog(id=str(new_uuid7()), request_id=f"old{index}", username="member", method="POST",
                 path=f"/api/v1/old/{index}", status=status, duration_ms=9000.0, created_at=ago(hours=30)).save()
# Task runs: 9 queued in the last 24 h (5 succeeded, 2 failed, 1 retrying, 1 pending), 3 older failures.
runs = [("SUCCESS", None)] * 5 + [("FAILURE", "boom: disk full"), ("FAILURE", "boom: timeout")]
runs += [("RETRY", None), ("PENDING", None)]
for index, (status, error) in enumerate(runs):
    TaskRun(task_id=str(new_uuid7()), task="scheduler.ping", status=status, error=error,
            queued_at=ago(minutes=5 + 60 * index), args=[], kwargs={}).save()
for index in range(3):
    TaskRun(task_id=str(new_uuid7()), task="scheduler.ping", status="FAILURE", error="old failure",
            queued_at=ago(hours=30 + index), args=[], kwargs={}).save()
# Storage: two completed uploads (1,000 and 2,048 bytes) and one pending.
for name, size, status in [("a.txt", 1000, "ready"), ("b.bin", 2048, "ready"), ("c.bin", 999, "pending")]:
    StoredFile.objects.create(owner=member, bucket=settings.S3_BUCKET, object_key=f"dashboard/{name}", filename=name,
                              size=size, content_type="application/octet-stream", status=status, strategy="single")
print(json.dumps({"ok": True}))
"""

# Two API sessions of "member": the live-sessions figure.
SESSIONS = 2

FORGET_FIGURES = """
from django.core.cache import cache
from apps.console.dashboard import FIGURES, cache_key
cache.delete_many([cache_key(figure) for figure in FIGURES])
print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module", autouse=True)
def _seeded(site: Site) -> None:
    site.snippet(SEED)
    for _ in range(SESSIONS):
        site.token("member")


def _lines(card: Locator) -> list[str]:
    return [line.strip() for line in card.inner_text().splitlines() if line.strip()]


def _card(page: Page, title: str, value: str | None = None, detail: str | None = None) -> Locator:
    """The KPI card titled `title`; with value and detail, checks that it shows exactly those."""
    card = page.locator("#dashboard-cards a.dashboard-card", has_text=title)
    expect(card).to_have_count(1)
    if value is not None:
        assert _lines(card)[:3] == [title, value, detail], _lines(card)
    return card


def _records(page: Page) -> int:
    """The record count of a MongoDB-backed list (operation logs, login logs, task runs)."""
    text = page.locator("#list-pagination").inner_text()
    match = re.search(r"([\d,]+) records?", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def _open(page: Page, site: Site, href: str | None) -> None:
    assert href and href.startswith("/admin/"), href
    response = page.goto(site.base + href)
    assert response is not None and response.status == 200, href


def _wait_for_own_records(site: Site) -> None:
    """Until the audit writer has flushed the sign-in's login log and its POST's operation log."""
    db: Any = site.mongo()
    for _ in range(120):
        counts = (db["login_logs"].count_documents({}), db["operation_logs"].count_documents({}))
        if counts == (11, 18):
            return
        assert counts[0] <= 11 and counts[1] <= 18, counts  # more would be records nobody expected
        time.sleep(0.5)
    raise AssertionError(f"the sign-in's records never reached MongoDB: {counts}")


def test_dashboard_shows_the_seeded_figures_and_links_to_their_lists(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    _wait_for_own_records(site)
    site.snippet(FORGET_FIGURES)  # the sign-in's own render cached figures that may predate its records
    page.goto(site.base + "/admin/")

    sign_ins = _card(page, "Sign-ins, last 14 days", "8", "5 succeeded, 3 failed")
    calls = _card(page, "API calls, last 24 h", "15", "audited calls: writes and failures")
    errors = _card(page, "Server errors (5xx), last 24 h", "20.0 %", "3 calls; client errors (4xx): 3 (20.0 %)")
    latency = _card(page, "p95 latency, last 24 h")
    match = re.fullmatch(r"([\d,]+) ms", _lines(latency)[1])
    assert match, _lines(latency)
    # The slowest call (5,000 ms) holds the 95th rank of 15; read from a histogram, within one bucket (x1.12).
    assert 5000 <= int(match.group(1).replace(",", "")) < 5000 * 1.13
    runs = _card(page, "Task runs, last 24 h", "9", "2 failed (22.2 %)")
    _card(page, "Online users now", "0", "0 open websocket connections")
    sessions = _card(page, "Live sessions", str(SESSIONS), "signed-in sessions that can still refresh")
    storage = _card(page, "Storage used", "3.0\xa0KB", "2 files; 1 uploads pending")
    panel = page.locator("#dashboard-task-runs")
    for text in ("All: 9", "SUCCESS: 5", "FAILURE: 2", "RETRY: 1", "PENDING: 1", "STARTED: 0", "boom: disk full"):
        expect(panel).to_contain_text(text)
    expect(panel).not_to_contain_text("old failure")
    shot(page, "dashboard-with-data")

    links = {
        name: card.get_attribute("href")
        for name, card in [
            ("sign_ins", sign_ins),
            ("calls", calls),
            ("errors", errors),
            ("runs", runs),
            ("sessions", sessions),
            ("storage", storage),
        ]
    }
    failed_sign_ins = page.get_by_role("link", name="Failed", exact=True).get_attribute("href")
    succeeded_runs = panel.get_by_role("link", name="SUCCESS: 5").get_attribute("href")
    failure = panel.get_by_role("link", name=re.compile("boom: disk full")).get_attribute("href")

    # Every figure's link opens the list it counts, with the same window and filter.
    _open(page, site, links["sign_ins"])
    assert _records(page) == 8
    _open(page, site, failed_sign_ins)
    assert _records(page) == 3
    expect(page.locator("#content-main")).not_to_contain_text("dashboard-seed admin")
    _open(page, site, links["calls"])
    assert _records(page) == 15
    expect(page.locator("#content-main")).not_to_contain_text("/api/v1/old/")
    _open(page, site, links["errors"])
    assert _records(page) == 3
    shot(page, "dashboard-link-server-errors")
    _open(page, site, links["runs"])  # with failures, the task-run figure opens the failed runs
    assert _records(page) == 2
    expect(page.locator("#content-main")).to_contain_text("boom: disk full")
    expect(page.locator("#content-main")).not_to_contain_text("old failure")
    shot(page, "dashboard-link-failed-runs")
    _open(page, site, succeeded_runs)
    assert _records(page) == 5
    _open(page, site, failure)
    expect(page.locator("#content")).to_contain_text("boom: disk full")
    _open(page, site, links["sessions"])
    expect(page.locator("body")).to_contain_text(f"member 0 websockets {SESSIONS} sessions")
    _open(page, site, links["storage"])
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#result_list")).not_to_contain_text("c.bin")
