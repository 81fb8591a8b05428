"""The admin: django-celery-beat's pages with the registered tasks, and the read-only task runs pages."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape
from typing import cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import AsyncClient
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from apps.accounts.models import User
from apps.core import mongo
from apps.scheduler import records, writer
from tests.factories import UserFactory
from tests.scheduler.conftest import flush_records

pytestmark = pytest.mark.django_db(transaction=True)

BEAT = "/admin/django_celery_beat"
RUNS = "/admin/scheduler/taskrunentry/"


async def logged_in(**fields) -> AsyncClient:
    user = cast(User, await sync_to_async(UserFactory)(is_staff=True, **fields))
    admin = AsyncClient()
    await admin.aforce_login(user)
    return admin


@pytest.fixture
async def admin():
    return await logged_in(username="admin-root", is_superuser=True)


def form_data(**overrides):
    interval = IntervalSchedule.objects.get_or_create(every=30, period="seconds")[0]
    data = {
        "name": "from the admin",
        "task_choice": "scheduler.ping",
        "custom_task": "",
        "schedule_kind": "existing",
        "enabled": "on",
        "description": "",
        "interval": str(interval.pk),
        "crontab": "",
        "solar": "",
        "clocked": "",
        "args": "[]",
        "kwargs": "{}",
        "expire_seconds": "",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "headers": "{}",
    }
    data.update(overrides)
    return data


async def test_periodic_task_form_offers_the_registered_tasks(admin):
    response = await admin.get(f"{BEAT}/periodictask/add/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="scheduler.ping">' in html
    assert '<option value="scheduler.ping_async">' in html
    assert '<option value="celery.chord">' not in html


async def test_admin_creates_a_schedule_and_checks_its_json(admin):
    data = await sync_to_async(form_data)(args='{"not": "a list"}', kwargs="[1]")
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200  # the form again, with errors
    html = response.content.decode()
    assert "Must be a JSON array" in html and "Must be a JSON object" in html
    assert not await PeriodicTask.objects.filter(name="from the admin").aexists()

    # Well-formed JSON the task cannot be called with (ping(message="pong") takes one argument, not two).
    data = await sync_to_async(form_data)(args="[1]", kwargs='{"message": "hi"}')
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200
    assert "do not fit scheduler.ping" in response.content.decode()
    assert not await PeriodicTask.objects.filter(name="from the admin").aexists()

    data = await sync_to_async(form_data)(args="[]", kwargs='{"message": "hi"}')
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    task = await PeriodicTask.objects.select_related("interval").aget(name="from the admin")
    assert task.task == "scheduler.ping" and task.kwargs == '{"message": "hi"}' and task.interval.every == 30


async def test_periodic_task_list_links_to_its_runs(admin):
    interval = await IntervalSchedule.objects.acreate(every=5, period="minutes")
    task = await PeriodicTask.objects.acreate(name="linked", task="scheduler.ping", interval=interval)
    response = await admin.get(f"{BEAT}/periodictask/")
    assert response.status_code == 200
    assert f'href="{RUNS}?schedule={task.pk}"' in response.content.decode()
    change = await admin.get(f"{BEAT}/periodictask/{task.pk}/change/")
    assert change.status_code == 200 and f"{RUNS}?schedule={task.pk}" in change.content.decode()


@pytest.mark.parametrize("model", ["intervalschedule", "crontabschedule", "clockedschedule", "solarschedule"])
async def test_schedule_pages_load(admin, model):
    assert (await admin.get(f"{BEAT}/{model}/")).status_code == 200
    assert (await admin.get(f"{BEAT}/{model}/add/")).status_code == 200


async def seed(task: str) -> list[str]:
    base = datetime(2032, 3, 1, 8, 0, tzinfo=UTC)
    ids = [f"{task}-ok", f"{task}-bad"]
    writer.submit(records.queued(task_id=ids[0], task=task, args=[1], kwargs={}, retries=0, at=base, schedule_id=42))
    writer.submit(records.succeeded(task_id=ids[0], task=task, retries=0, result={"n": 1}, at=base, duration_ms=5.0))
    writer.submit(
        records.failed(
            task_id=ids[1],
            task=task,
            retries=0,
            error=KeyError("missing"),
            traceback="Traceback (most recent call last):\n  boom",
            at=base + timedelta(minutes=1),
            duration_ms=7.0,
        )
    )
    await sync_to_async(flush_records)()
    return ids


async def test_task_runs_page_lists_filters_and_shows_details(admin):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    ok, bad = await seed(task)
    html = (await admin.get(RUNS, {"task": task})).content.decode()
    assert ok in html and bad in html
    assert f"{RUNS}{bad}/" in html  # each run links to its details

    html = (await admin.get(RUNS, {"task": task, "status": "FAILURE"})).content.decode()
    assert bad in html and ok not in html
    html = (await admin.get(RUNS, {"schedule": "42", "q": ok})).content.decode()
    assert ok in html and bad not in html
    html = (await admin.get(RUNS, {"task": task, "since": "2032-03-02"})).content.decode()
    assert ok not in html and "No task runs match" in html

    detail = await admin.get(f"{RUNS}{bad}/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "KeyError" in text and "Traceback (most recent call last)" in text
    assert (await admin.get(f"{RUNS}{uuid.uuid4()}/")).status_code == 404


async def test_task_runs_pages_are_read_only(admin):
    assert (await admin.get(f"{RUNS}add/")).status_code == 404
    response = await admin.get("/admin/scheduler/")
    assert response.status_code == 200
    assert RUNS in response.content.decode()


async def test_task_runs_need_the_view_permission():
    staff = await logged_in(username="plain-staff")
    assert (await staff.get(RUNS)).status_code == 403

    user = cast(User, await sync_to_async(UserFactory)(username="run-viewer", is_staff=True))
    permission = await Permission.objects.aget(codename="view_taskrunentry")
    await sync_to_async(user.user_permissions.add)(permission)
    viewer = AsyncClient()
    await viewer.aforce_login(user)
    assert (await viewer.get(RUNS)).status_code == 200


async def test_task_runs_page_says_when_mongodb_is_down(admin, settings):
    settings.MONGODB_TIMEOUT_MS = 200
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    try:
        response = await admin.get(RUNS)
    finally:
        settings.MONGODB_TIMEOUT_MS = 2000
        mongo.connect(force=True)
    assert response.status_code == 200
    assert "MongoDB is unavailable" in response.content.decode()


async def test_task_runs_page_ignores_filters_the_api_would_refuse(admin):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    ok, bad = await seed(task)
    for params in (
        {"task": task, "schedule": "99999999999999999999"},
        {"task": task, "until": "9999-12-31"},
        {"task": task, "since": "0001-01-01T00:00:00+05:00"},
    ):
        response = await admin.get(RUNS, params)
        assert response.status_code == 200, params
        html = response.content.decode()
        assert ok in html and bad in html, params


# --- task runs: badges, page numbers, bounded parameters, CSV export ---------------------------------------


async def test_task_runs_page_draws_status_badges(admin):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    await seed(task)
    html = (await admin.get(RUNS, {"task": task})).content.decode()
    assert re.search(r"bg-green-100[^>]*>\s*SUCCESS\s*<", html)
    assert re.search(r"bg-red-100[^>]*>\s*FAILURE\s*<", html)
    assert 'aria-current="page">1<' in html and "2 records" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"p": "99999999999999999999"}, "There is no page 99999999999999999999; showing the last page (1)."),
        ({"p": "5"}, "There is no page 5; showing the last page (1)."),
        ({"p": "-3"}, "“-3” is not a page number; showing page 1."),
        ({"p": "zzz"}, "“zzz” is not a page number; showing page 1."),
        ({"q": "x" * 5000}, "The search text was cut to its first 200 characters."),
        ({"schedule": "99999999999999999999"}, "(ignored)"),
        ({"status": "EXPLODED"}, "(ignored)"),
        ({"since": "not a time"}, "(ignored)"),
    ],
)
async def test_task_runs_page_bounds_its_parameters(admin, params, message):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    ok, bad = await seed(task)
    response = await admin.get(RUNS, {"task": task, **params})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "page 1 of 1" in html and "page 5 of" not in html
    if "q" not in params:
        assert ok in html and bad in html


async def test_task_runs_filters_from_query_parameters(admin):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    ok, bad = await seed(task)
    html = (
        await admin.get(RUNS, {"task": task, "status": "failure", "since": "2032-03-01T08:00:30Z"})
    ).content.decode()
    assert bad in html and ok not in html
    html = (await admin.get(RUNS, {"task": task, "until": "2032-03-01"})).content.decode()
    assert ok in html and bad in html  # a bare day includes the whole day
    html = (await admin.get(RUNS, {"task": task, "until": "2032-03-01T08:00:30"})).content.decode()
    assert ok in html and bad not in html
    # A task no longer registered (or never, like this one) stays selected in the filter.
    assert f'<option value="{task}" selected>' in html


async def _csv(response) -> list[list[str]]:
    body = b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


async def test_task_runs_export_the_filtered_list_as_csv(admin):
    task = f"tests.admin.{uuid.uuid4().hex[:8]}"
    ok, bad = await seed(task)
    response = await admin.get(f"{RUNS}export/", {"task": task, "status": "FAILURE"})
    assert response.status_code == 200 and response["X-Export-Rows"] == "1"
    assert response["Content-Disposition"].startswith('attachment; filename="task-runs-')
    rows = await _csv(response)
    assert rows[0] == [
        "task id",
        "task",
        "status",
        "retries",
        "schedule id",
        "schedule",
        "worker",
        "queued at",
        "started at",
        "finished at",
        "duration ms",
        "error",
    ]
    assert len(rows) == 2 and rows[1][0] == bad and rows[1][2] == "FAILURE" and "KeyError" in rows[1][11]
    assert "Traceback" not in "".join(rows[1])  # tracebacks, args and results stay on the run's page
    rows = await _csv(await admin.get(f"{RUNS}export/", {"task": task}))
    assert [row[0] for row in rows[1:]] == [bad, ok]  # newest first


async def test_task_runs_export_needs_the_view_permission():
    staff = await logged_in(username=f"no-runs-{uuid.uuid4().hex[:6]}")
    assert (await staff.get(f"{RUNS}export/")).status_code == 403


async def test_task_runs_export_says_when_mongodb_is_down(admin, settings):
    settings.MONGODB_TIMEOUT_MS = 200
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    try:
        response = await admin.get(f"{RUNS}export/")
    finally:
        settings.MONGODB_TIMEOUT_MS = 2000
        mongo.connect(force=True)
    assert response.status_code == 503 and "MongoDB is unavailable" in response.content.decode()


# --- the periodic-task form: one task picker, schedules made in place ------------------------------------


async def test_periodic_task_form_has_one_task_picker(admin):
    html = html_unescape((await admin.get(f"{BEAT}/periodictask/add/")).content.decode())
    assert html.count('name="task_choice"') == 1
    assert 'name="regtask"' not in html and 'name="task"' not in html
    assert '<option value="__other__">' in html
    # The custom name, the interval and the crontab fields show only when chosen (unfold's conditional fields).
    assert "x-show=\"task_choice == '__other__'\"" in html
    assert "x-show=\"schedule_kind == 'interval'\"" in html and "x-show=\"schedule_kind == 'crontab'\"" in html


async def test_periodic_task_with_a_custom_task_name(admin):
    data = await sync_to_async(form_data)(name="custom one", task_choice="__other__", custom_task="  ")
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200 and "Enter the task name." in response.content.decode()

    data = await sync_to_async(form_data)(name="custom one", task_choice="__other__", custom_task=" remote.cleanup ")
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    task = await PeriodicTask.objects.aget(name="custom one")
    assert task.task == "remote.cleanup"
    # Editing shows "Other…" with the name filled in.
    html = (await admin.get(f"{BEAT}/periodictask/{task.pk}/change/")).content.decode()
    assert '<option value="__other__" selected>' in html and 'value="remote.cleanup"' in html

    # A registered task picked from the list wins over a leftover custom name.
    data = await sync_to_async(form_data)(name="custom one", task_choice="scheduler.ping", custom_task="remote.x")
    response = await admin.post(f"{BEAT}/periodictask/{task.pk}/change/", data)
    assert response.status_code == 302
    assert (await PeriodicTask.objects.aget(pk=task.pk)).task == "scheduler.ping"

    # A task only the platform sends is refused as a custom name too.
    data = await sync_to_async(form_data)(name="sneaky", task_choice="__other__", custom_task="mail.send")
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200 and "internal to the platform" in response.content.decode()
    assert not await PeriodicTask.objects.filter(name="sneaky").aexists()

    data = await sync_to_async(form_data)(name="bad pick", task_choice="not.a.task")
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


async def test_periodic_task_form_creates_an_interval_in_place(admin):
    before = await sync_to_async(PeriodicTasks.last_change)()
    data = await sync_to_async(form_data)(
        name="every seven", schedule_kind="interval", every="7", period="minutes", interval=""
    )
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    task = await PeriodicTask.objects.select_related("interval").aget(name="every seven")
    assert (task.interval.every, task.interval.period) == (7, "minutes") and task.crontab_id is None
    after = await sync_to_async(PeriodicTasks.last_change)()
    assert after is not None and (before is None or after > before)  # beat reloads on its next tick

    # The same interval again reuses the row.
    data = await sync_to_async(form_data)(name="every seven too", schedule_kind="interval", every="7", period="minutes")
    assert (await admin.post(f"{BEAT}/periodictask/add/", data)).status_code == 302
    assert await IntervalSchedule.objects.filter(every=7, period="minutes").acount() == 1


async def test_periodic_task_form_creates_a_crontab_in_place(admin):
    interval = await IntervalSchedule.objects.acreate(every=3, period="hours")
    existing = await PeriodicTask.objects.acreate(name="to crontab", task="scheduler.ping", interval=interval)
    data = await sync_to_async(form_data)(
        name="to crontab",
        schedule_kind="crontab",
        minute="*/15",
        hour="9-17",
        day_of_month="*",
        month_of_year="*",
        day_of_week="mon-fri",
        cron_timezone="Asia/Shanghai",
    )
    response = await admin.post(f"{BEAT}/periodictask/{existing.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    task = await PeriodicTask.objects.select_related("crontab").aget(pk=existing.pk)
    assert task.interval_id is None
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week, str(cron.timezone)) == (
        "*/15",
        "9-17",
        "mon-fri",
        "Asia/Shanghai",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule_kind": "interval", "every": "0", "period": "minutes"}, "Ensure this value is greater than"),
        ({"schedule_kind": "interval", "every": "", "period": "minutes"}, "Input should be a valid integer"),
        ({"schedule_kind": "interval", "every": "5", "period": "fortnights"}, "Select a valid choice"),
        ({"schedule_kind": "crontab", "minute": "99"}, "not a valid crontab minute"),
        ({"schedule_kind": "crontab", "hour": "=1+1"}, "not a valid crontab hour"),
        ({"schedule_kind": "crontab", "cron_timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"schedule_kind": "existing", "interval": ""}, "One of clocked, interval, crontab, or solar must be set"),
        ({"schedule_kind": "weekly"}, "Select a valid choice"),
    ],
)
async def test_periodic_task_form_refuses_a_bad_schedule(admin, fields, message):
    data = await sync_to_async(form_data)(name="bad schedule", **fields)
    intervals = await IntervalSchedule.objects.acount()
    crontabs = await CrontabSchedule.objects.acount()
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200
    assert message in html_unescape(response.content.decode())
    assert not await PeriodicTask.objects.filter(name="bad schedule").aexists()
    assert await IntervalSchedule.objects.acount() == intervals and await CrontabSchedule.objects.acount() == crontabs


async def test_periodic_task_form_checks_arguments_with_an_inline_schedule(admin):
    data = await sync_to_async(form_data)(
        name="bad args", schedule_kind="interval", every="9", period="seconds", args="[1, 2, 3]"
    )
    response = await admin.post(f"{BEAT}/periodictask/add/", data)
    assert response.status_code == 200 and "do not fit scheduler.ping" in response.content.decode()
    assert not await IntervalSchedule.objects.filter(every=9, period="seconds").aexists()
