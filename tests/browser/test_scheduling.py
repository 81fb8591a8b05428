"""A periodic task made in the admin form, run now, enabled and disabled, with a real Celery worker and beat
behind the live server: its runs show up on the task-run page as the worker records them."""

import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Child, Site, shot, sign_in

pytestmark = pytest.mark.e2e

TASKS = "/admin/django_celery_beat/periodictask/"
TASK_NAME = "browser ping"
MESSAGE = "sent from the browser"
RUN_TIMEOUT = 90.0  # seconds: a busy two-core machine may take long to hand a task to the worker and back


def _run_action(page: Page, site: Site, action: str) -> None:
    """Tick the task's row on the periodic-task list and run a bulk action on it."""
    page.goto(site.base + TASKS)
    page.locator("#result_list tr", has_text=TASK_NAME).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("#changelist-actions button[name=index]")


def _runs(site: Site, schedule_id: int) -> list[dict[str, Any]]:
    return list(site.mongo()["task_runs"].find({"schedule": schedule_id}, {"_id": 0, "status": 1, "result": 1}))


def _record_count(page: Page) -> int:
    text = page.locator("#list-pagination").inner_text()
    match = re.search(r"(\d+) records?", text)
    assert match, text
    return int(match.group(1))


def _listed_successes(page: Page, url: str, at_least: int) -> int:
    """Reload the schedule's task-run list (SUCCESS only) until it lists `at_least` runs, or time runs out."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        page.goto(url + "&status=SUCCESS")
        count = _record_count(page)
        if count >= at_least or time.monotonic() > deadline:
            return count
        page.wait_for_timeout(1000)


def _settled_count(site: Site, schedule_id: int, quiet: float) -> int:
    """The number of the schedule's runs once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + RUN_TIMEOUT
    count, since = len(_runs(site, schedule_id)), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = len(_runs(site, schedule_id))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
    raise AssertionError(f"runs of schedule {schedule_id} kept coming after it was disabled")


def test_periodic_task_created_run_enabled_and_disabled(page: Page, site: Site, worker: Child, beat: Child) -> None:
    sign_in(page, site, "admin")
    page.goto(site.base + TASKS + "add/")
    page.fill("input[name=name]", TASK_NAME)
    page.select_option("select[name=task_choice]", "scheduler.ping")
    page.uncheck("input[name=enabled]")  # made disabled: beat must not run it before it is enabled
    page.select_option("select[name=schedule_kind]", "interval")
    page.fill("input[name=every]", "2")
    page.select_option("select[name=period]", "seconds")
    page.get_by_text("Arguments", exact=True).click()
    page.fill("textarea[name=kwargs]", json.dumps({"message": MESSAGE}))
    shot(page, "periodic-task-form")
    page.click("button[name=_save]")
    expect(page.locator("#result_list")).to_contain_text(TASK_NAME)

    saved = site.snippet(
        "from django_celery_beat.models import PeriodicTask\n"
        f"t = PeriodicTask.objects.select_related('interval').get(name={TASK_NAME!r})\n"
        "print(json.dumps({'id': t.pk, 'row': [t.task, t.enabled, t.interval.every, t.interval.period, t.kwargs]}))"
    )
    assert saved["row"] == ["scheduler.ping", False, 2, "seconds", json.dumps({"message": MESSAGE})]
    schedule_id = int(saved["id"])
    runs_url = site.base + f"/admin/scheduler/taskrunentry/?schedule={schedule_id}"

    # Run now, while disabled: exactly one run, made by the worker, linked to the schedule.
    _run_action(page, site, "run_tasks")
    expect(page.locator("body")).to_contain_text("1 task was successfully run")
    assert _listed_successes(page, runs_url, 1) == 1
    listed = page.locator("#content-main")
    expect(listed).to_contain_text("scheduler.ping")
    expect(listed).to_contain_text(TASK_NAME)
    expect(listed).to_contain_text("SUCCESS")
    shot(page, "task-runs-of-schedule")
    page.locator("#content-main table a[href*='/taskrunentry/']").first.click()
    expect(page.locator("#content")).to_contain_text(MESSAGE)  # the worker's result, on the run's page
    shot(page, "task-run-detail")
    time.sleep(5)  # beat ticks every second and the interval is 2 s: a disabled task gets no run from it
    assert _runs(site, schedule_id) == [{"status": "SUCCESS", "result": MESSAGE}]

    # Enabled: beat sends it every 2 seconds and the runs show up on its page.
    _run_action(page, site, "enable_tasks")
    expect(page.locator("body")).to_contain_text("successfully enabled")
    assert _listed_successes(page, runs_url, 3) >= 3
    shot(page, "task-runs-from-beat")

    # Disabled again: beat stops sending it (a run it already sent may still land, then nothing more).
    _run_action(page, site, "disable_tasks")
    expect(page.locator("body")).to_contain_text("successfully disabled")
    assert (
        site.snippet(
            "from django_celery_beat.models import PeriodicTask\n"
            f"print(json.dumps(PeriodicTask.objects.get(pk={schedule_id}).enabled))"
        )
        is False
    )
    settled = _settled_count(site, schedule_id, quiet=8)
    assert "Sending due task " + TASK_NAME in beat.output()
    time.sleep(6)  # three more periods of the interval: still nothing
    runs = _runs(site, schedule_id)
    assert len(runs) == settled
    assert all(run == {"status": "SUCCESS", "result": MESSAGE} for run in runs)
    assert _listed_successes(page, runs_url, settled) == settled
