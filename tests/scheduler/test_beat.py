"""A real `celery beat` process with the database scheduler picks up schedule changes without a restart."""

import asyncio
import time
import uuid

import pytest
from django.test import AsyncClient
from django_celery_beat.models import PeriodicTask

from apps.scheduler.selectors import task_run_page_sync
from tests.conftest import envelope_of
from tests.scheduler.conftest import call, eventually, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def runs_of(schedule_id: int, status: str | None = None) -> list[dict]:
    query: dict = {"schedule": schedule_id}
    if status:
        query["status"] = status
    items, _ = task_run_page_sync(query, offset=0, limit=1000)
    return items


async def beat_started(beat) -> None:
    """Beat installs its default entry when its scheduler starts: from then on it is running."""

    def started():
        assert beat.alive(), beat.output()
        return PeriodicTask.objects.filter(name="celery.backend_cleanup").exists()

    await eventually(started, timeout=60)


async def count_settles(schedule_id: int, *, quiet: float) -> int:
    """The number of runs once no new one has been sent for `quiet` seconds."""
    count = len(await asyncio.to_thread(runs_of, schedule_id))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = len(await asyncio.to_thread(runs_of, schedule_id))
        if now == count:
            return count
        count = now
    raise AssertionError("beat kept sending a disabled schedule")


async def test_schedule_created_through_the_api_runs_then_stops_when_disabled(client, beat, worker):
    _, headers = await signed_in(
        "POST:/api/v1/schedules", "PATCH:/api/v1/schedules/{schedule_id}", username="beat-operator"
    )
    await beat_started(beat)

    message = f"beat-{uuid.uuid4().hex[:8]}"
    response = await call(
        client,
        "POST",
        "/schedules",
        headers,
        {
            "name": message,
            "task": "scheduler.ping",
            "kwargs": {"message": message},
            "schedule": {"type": "interval", "every": 1, "period": "seconds"},
        },
    )
    assert response.status_code == 201, response.content
    schedule_id = envelope_of(response)["data"]["id"]

    # Beat (started before this schedule existed) sends it, repeatedly, and the worker runs it.
    succeeded = await eventually(lambda: len(runs_of(schedule_id, "SUCCESS")) >= 2 and runs_of(schedule_id, "SUCCESS"))
    assert all(run["result"] == message and run["schedule_name"] == message for run in succeeded)
    assert all(run["task"] == "scheduler.ping" for run in succeeded)
    # Workers never look schedules up in the database (Celery closes their connection pool around tasks).
    assert "could not resolve schedule" not in worker.log_path.read_text(errors="replace")

    response = await call(client, "PATCH", f"/schedules/{schedule_id}", headers, {"enabled": False})
    assert response.status_code == 200 and envelope_of(response)["data"]["enabled"] is False
    settled = await count_settles(schedule_id, quiet=3.0)
    await asyncio.sleep(3)
    assert len(await asyncio.to_thread(runs_of, schedule_id)) == settled
    assert beat.alive()


async def test_bulk_enable_from_the_admin_reaches_a_running_beat(client, beat, worker, admin_client):
    await beat_started(beat)
    message = f"bulk-{uuid.uuid4().hex[:8]}"
    _, headers = await signed_in("POST:/api/v1/schedules", username="bulk-operator")
    response = await call(
        client,
        "POST",
        "/schedules",
        headers,
        {
            "name": message,
            "task": "scheduler.ping_async",
            "enabled": False,
            "kwargs": {"message": message},
            "schedule": {"type": "interval", "every": 1, "period": "seconds"},
        },
    )
    schedule_id = envelope_of(response)["data"]["id"]
    await asyncio.sleep(3)
    assert await asyncio.to_thread(runs_of, schedule_id) == []  # disabled: beat does not send it

    # The admin's bulk action is a queryset.update() followed by PeriodicTasks.update_changed().
    response = await admin_client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "enable_tasks", "_selected_action": [str(schedule_id)]},
    )
    assert response.status_code == 302
    runs = await eventually(lambda: runs_of(schedule_id, "SUCCESS"))
    assert runs[0]["result"] == message and runs[0]["task"] == "scheduler.ping_async"


@pytest.fixture
async def admin_client() -> AsyncClient:
    user, _ = await signed_in(username="beat-admin", is_superuser=True, is_staff=True)
    admin = AsyncClient()
    await admin.aforce_login(user)
    return admin
