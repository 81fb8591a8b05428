"""The admin: django-celery-beat's pages with the registered tasks, and the read-only task runs pages."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import AsyncClient
from django_celery_beat.models import IntervalSchedule, PeriodicTask

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
