"""The scheduling API over HTTP: registered tasks, schedules CRUD and validation, run now, task runs."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask, PeriodicTasks

from apps.scheduler import records, writer
from tests.conftest import envelope_of
from tests.scheduler.conftest import await_run, call, flush_records, signed_in, status_is

pytestmark = pytest.mark.django_db(transaction=True)


def interval(every=10, period="seconds"):
    return {"type": "interval", "every": every, "period": period}


async def create(client, headers, **fields):
    body = {"name": f"s-{uuid.uuid4().hex[:8]}", "task": "scheduler.ping", "schedule": interval(), **fields}
    response = await call(client, "POST", "/schedules", headers, body)
    return response, envelope_of(response)


def assert_validation_error(response, body, loc):
    assert response.status_code == 422, body
    assert body["code"] == 42200, body
    assert any(item["loc"][: len(loc)] == loc for item in body["data"]), body["data"]


# --- registered tasks ------------------------------------------------------------------------------------


async def test_registered_tasks_list_project_tasks_with_descriptions(client, operator):
    _, headers = operator
    response = await call(client, "GET", "/tasks/registered", headers)
    body = envelope_of(response)
    assert response.status_code == 200 and body["code"] == 0
    by_name = {item["name"]: item["description"] for item in body["data"]}
    assert by_name["scheduler.ping"].startswith("Answers `message`")
    assert "async task" in by_name["scheduler.ping_async"]
    assert not any(name.startswith("celery.") for name in by_name)
    assert list(by_name) == sorted(by_name)
    # Tasks only the platform sends (the mail sender would mail whatever its arguments say) are not offered...
    assert "mail.send" not in by_name and "onboarding.password_reset_mail" not in by_name


async def test_internal_tasks_cannot_be_scheduled(client, operator):
    _, headers = operator
    for name in ("mail.send", "onboarding.password_reset_mail"):
        response, body = await create(client, headers, name=f"sneaky {name}", task=name, args=["x"])
        assert response.status_code == 422 and body["code"] == 42200, body
        assert body["data"][0]["loc"][-1] == "task"


# --- schedules -------------------------------------------------------------------------------------------


async def test_create_interval_schedule_and_read_it_back(client, operator):
    _, headers = operator
    before = await sync_to_async(PeriodicTasks.last_change)()
    response, body = await create(
        client, headers, name="every ten", task="tests.scheduler.add", args=[1], kwargs={"b": 2}, description="demo"
    )
    assert response.status_code == 201, body
    schedule = body["data"]
    assert schedule == {
        "id": schedule["id"],
        "name": "every ten",
        "task": "tests.scheduler.add",
        "enabled": True,
        "one_off": False,
        "args": [1],
        "kwargs": {"b": 2},
        "schedule": {"type": "interval", "every": 10, "period": "seconds"},
        "last_run_at": None,
        "total_run_count": 0,
        "description": "demo",
    }
    # Beat's change marker moved, so a running beat reloads its schedule.
    after = await sync_to_async(PeriodicTasks.last_change)()
    assert after is not None and (before is None or after > before)

    fetched = envelope_of(await call(client, "GET", f"/schedules/{schedule['id']}", headers))["data"]
    assert fetched == schedule
    listed = envelope_of(await call(client, "GET", "/schedules", headers))["data"]
    assert schedule in listed["items"]


async def test_create_crontab_schedule_defaults_to_server_time_zone(client, operator):
    _, headers = operator
    response, body = await create(
        client, headers, task="scheduler.ping_async", schedule={"type": "crontab", "minute": "*/15", "hour": "8-18"}
    )
    assert response.status_code == 201, body
    assert body["data"]["schedule"] == {
        "type": "crontab",
        "minute": "*/15",
        "hour": "8-18",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": settings.TIME_ZONE,
    }
    response, body = await create(
        client,
        headers,
        schedule={"type": "crontab", "minute": "0", "day_of_week": "mon-fri", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 201, body
    assert body["data"]["schedule"]["timezone"] == "Europe/Paris"


async def test_clocked_schedule_is_one_off_by_default(client, operator):
    _, headers = operator
    run_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    response, body = await create(client, headers, schedule={"type": "clocked", "run_at": run_at.isoformat()})
    assert response.status_code == 201, body
    assert body["data"]["one_off"] is True
    assert body["data"]["schedule"]["type"] == "clocked"
    assert datetime.fromisoformat(body["data"]["schedule"]["run_at"]) == run_at

    response, body = await create(
        client, headers, schedule={"type": "clocked", "run_at": run_at.isoformat()}, one_off=False
    )
    assert_validation_error(response, body, ["body", "payload", "one_off"])


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"task": "no.such.task"}, ["body", "payload", "task"]),
        ({"task": "celery.backend_cleanup"}, ["body", "payload", "task"]),
        ({"args": {"not": "a list"}}, ["body", "payload", "args"]),
        ({"kwargs": [1, 2]}, ["body", "payload", "kwargs"]),
        ({"kwargs": "{}"}, ["body", "payload", "kwargs"]),
        ({"name": "   "}, ["body", "payload", "name"]),
        ({"schedule": {"type": "interval", "every": 0, "period": "seconds"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "interval", "every": 5, "period": "fortnights"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "crontab", "minute": "61"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "crontab", "day_of_week": "someday"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "clocked", "run_at": "0001-01-01T00:00:00+05:00"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "clocked", "run_at": "9999-12-31T23:00:00-05:00"}}, ["body", "payload", "schedule"]),
        ({"args": [1, 2]}, ["body", "payload", "args"]),
        ({"kwargs": {"nope": 1}}, ["body", "payload", "kwargs"]),
        ({"args": ["a"], "kwargs": {"message": "b"}}, ["body", "payload", "kwargs"]),
        ({"task": "tests.scheduler.add", "args": [1]}, ["body", "payload", "args"]),
        ({"schedule": {"type": "crontab", "timezone": "Mars/Olympus"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "clocked", "run_at": "2030-01-01T00:00:00"}}, ["body", "payload", "schedule"]),
        ({"schedule": {"type": "weekly"}}, ["body", "payload", "schedule"]),
    ],
)
async def test_invalid_schedules_are_refused_with_42200(client, operator, fields, loc):
    _, headers = operator
    response, body = await create(client, headers, **fields)
    assert_validation_error(response, body, loc)
    assert await PeriodicTask.objects.acount() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minute", "*/0"),  # ValueError in celery's parser
        ("minute", "61"),
        ("minute", "*/"),  # ParseException, which is no ValueError
        ("hour", "1,,2"),
        ("day_of_month", "-1"),
        ("month_of_year", "*/*"),
        ("day_of_week", "garbage"),
        ("minute", "\u0663"),  # an Arabic-Indic digit: int() takes it, cron does not
        ("hour", "1_0"),
        ("minute", "+5"),
    ],
)
async def test_invalid_crontab_is_42200_with_a_clear_message(client, operator, field, value):
    _, headers = operator
    response, body = await create(client, headers, schedule={"type": "crontab", field: value})
    assert_validation_error(response, body, ["body", "payload", "schedule"])
    assert any(f"not a valid crontab {field.replace('_', ' ')}" in item["msg"] for item in body["data"]), body
    assert await PeriodicTask.objects.acount() == 0


async def test_crontab_made_outside_the_api_is_shown_as_stored(client, operator):
    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    # The admin's own crontab validators take what the API's stricter syntax refuses.
    crontab = await CrontabSchedule.objects.acreate(minute="+5", hour="1_0", timezone="UTC")
    await PeriodicTask.objects.filter(pk=schedule["id"]).aupdate(interval=None, crontab=crontab)
    response = await call(client, "GET", f"/schedules/{schedule['id']}", headers)
    assert response.status_code == 200, response.content
    assert envelope_of(response)["data"]["schedule"]["minute"] == "+5"


async def test_clocked_time_is_stored_in_utc(client, operator):
    _, headers = operator
    response, body = await create(client, headers, schedule={"type": "clocked", "run_at": "2030-01-01T09:30:00+01:30"})
    assert response.status_code == 201, body
    assert body["data"]["schedule"]["run_at"] in ("2030-01-01T08:00:00Z", "2030-01-01T08:00:00+00:00")
    clocked = await ClockedSchedule.objects.aget()
    assert clocked.clocked_time == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


async def test_args_and_kwargs_must_fit_the_task_signature(client, operator):
    _, headers = operator
    response, body = await create(client, headers, args=[1, 2])
    assert_validation_error(response, body, ["body", "payload", "args"])
    message = body["data"][0]["msg"]
    assert "scheduler.ping(message: str = 'pong')" in message and "too many positional arguments" in message
    # An async task is checked against its coroutine's parameters (not the sync wrapper Celery runs).
    response, body = await create(client, headers, task="scheduler.ping_async", kwargs={"message": "hi"})
    assert response.status_code == 201, body
    response, body = await create(client, headers, task="scheduler.ping_async", kwargs={"other": "hi"})
    assert_validation_error(response, body, ["body", "payload", "kwargs"])
    # Bound tasks: `self` is not an argument the schedule gives.
    response, body = await create(client, headers, task="tests.scheduler.flaky_async", args=[0])
    assert response.status_code == 201, body
    assert await PeriodicTask.objects.acount() == 2


async def test_patch_checks_the_arguments_against_the_resulting_task(client, operator):
    _, headers = operator
    schedule = (await create(client, headers, kwargs={"message": "hi"}))[1]["data"]
    path = f"/schedules/{schedule['id']}"
    for patch, loc in (
        ({"task": "tests.scheduler.add"}, ["body", "payload", "kwargs"]),  # the stored kwargs do not fit it
        ({"args": [1, 2]}, ["body", "payload", "args"]),
        ({"kwargs": {"nope": 1}}, ["body", "payload", "kwargs"]),
    ):
        response = await call(client, "PATCH", path, headers, patch)
        assert_validation_error(response, envelope_of(response), loc)
    assert envelope_of(await call(client, "GET", path, headers))["data"] == schedule
    response = await call(client, "PATCH", path, headers, {"task": "tests.scheduler.add", "args": [1, 2], "kwargs": {}})
    assert response.status_code == 200, response.content
    assert envelope_of(response)["data"]["args"] == [1, 2]


async def test_run_now_of_arguments_that_do_not_fit_is_42200(client, operator):
    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    # As the admin (or an older version) could have saved it.
    await PeriodicTask.objects.filter(pk=schedule["id"]).aupdate(args="[1, 2, 3]")
    response = await call(client, "POST", f"/schedules/{schedule['id']}/run", headers)
    body = envelope_of(response)
    assert_validation_error(response, body, ["args"])
    assert "scheduler.ping" in body["message"]


async def test_delete_schedule_is_documented_as_the_envelope_it_answers(client, operator, settings):
    settings.API_DOCS_PUBLIC = True
    schema = (await client.get("/api/v1/openapi.json")).json()
    documented = schema["paths"]["/api/v1/schedules/{schedule_id}"]["delete"]["responses"]
    assert set(documented) >= {"200"} and not {"201", "202", "204"} & set(documented)
    envelope = documented["200"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["code", "message", "data"]
    assert envelope["properties"]["data"] == {"nullable": True}
    # The project's convention for delete routes.
    assert documented["200"] == schema["paths"]["/api/v1/roles/{role_id}"]["delete"]["responses"]["200"]

    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    response = await call(client, "DELETE", f"/schedules/{schedule['id']}", headers)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert envelope_of(response) == {"code": 0, "message": "OK", "data": None}


async def test_out_of_range_schedule_ids_are_not_server_errors(client, operator):
    _, headers = operator
    for method in ("GET", "PATCH", "DELETE", "POST"):
        path = "/schedules/99999999999999999999" + ("/run" if method == "POST" else "")
        response = await call(client, method, path, headers, {} if method == "PATCH" else None)
        assert response.status_code in (404, 422), (method, response.content)


async def test_duplicate_name_is_40900_on_create_and_rename(client, operator):
    _, headers = operator
    first = (await create(client, headers, name="nightly"))[1]["data"]
    response, body = await create(client, headers, name="nightly")
    assert response.status_code == 409 and body["code"] == 40900
    second = (await create(client, headers, name="hourly"))[1]["data"]
    response = await call(client, "PATCH", f"/schedules/{second['id']}", headers, {"name": "nightly"})
    assert response.status_code == 409 and envelope_of(response)["code"] == 40900
    assert await PeriodicTask.objects.filter(name="nightly").acount() == 1
    assert (await PeriodicTask.objects.aget(pk=first["id"])).name == "nightly"


async def test_patch_enables_disables_and_changes_fields(client, operator):
    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    path = f"/schedules/{schedule['id']}"
    await PeriodicTask.objects.filter(pk=schedule["id"]).aupdate(last_run_at=datetime.now(UTC), total_run_count=3)
    before = await sync_to_async(PeriodicTasks.last_change)()

    response = await call(client, "PATCH", path, headers, {"enabled": False})
    data = envelope_of(response)["data"]
    assert response.status_code == 200 and data["enabled"] is False
    assert data["last_run_at"] is None  # re-enabling later starts a fresh interval, no catch-up run
    assert await sync_to_async(PeriodicTasks.last_change)() > before

    response = await call(
        client,
        "PATCH",
        path,
        headers,
        {"enabled": True, "args": ["x"], "kwargs": {}, "task": "scheduler.ping_async", "description": "changed"},
    )
    data = envelope_of(response)["data"]
    assert data["enabled"] is True and data["args"] == ["x"] and data["task"] == "scheduler.ping_async"
    assert data["description"] == "changed" and data["name"] == schedule["name"]
    assert data["schedule"] == schedule["schedule"]  # untouched: not sent


async def test_patch_replaces_the_schedule_and_drops_an_unused_clocked_time(client, operator):
    _, headers = operator
    run_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    schedule = (await create(client, headers, schedule={"type": "clocked", "run_at": run_at}))[1]["data"]
    assert await ClockedSchedule.objects.acount() == 1
    response = await call(
        client, "PATCH", f"/schedules/{schedule['id']}", headers, {"schedule": interval(2, "minutes")}
    )
    data = envelope_of(response)["data"]
    assert response.status_code == 200
    assert data["schedule"] == {"type": "interval", "every": 2, "period": "minutes"}
    assert data["one_off"] is False  # follows the new schedule type unless sent
    assert await ClockedSchedule.objects.acount() == 0


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"name": None}, ["body", "payload", "name"]),
        ({"enabled": None}, ["body", "payload", "enabled"]),
        ({"task": "no.such.task"}, ["body", "payload", "task"]),
        ({"args": "[]"}, ["body", "payload", "args"]),
        ({"schedule": {"type": "crontab", "hour": "25"}}, ["body", "payload", "schedule"]),
    ],
)
async def test_invalid_patch_is_refused_and_changes_nothing(client, operator, patch, loc):
    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    response = await call(client, "PATCH", f"/schedules/{schedule['id']}", headers, patch)
    assert_validation_error(response, envelope_of(response), loc)
    unchanged = envelope_of(await call(client, "GET", f"/schedules/{schedule['id']}", headers))["data"]
    assert unchanged == schedule


async def test_delete_schedule_then_404(client, operator):
    _, headers = operator
    schedule = (await create(client, headers))[1]["data"]
    response = await call(client, "DELETE", f"/schedules/{schedule['id']}", headers)
    assert response.status_code == 200 and envelope_of(response) == {"code": 0, "message": "OK", "data": None}
    for method in ("GET", "DELETE", "PATCH"):
        response = await call(
            client, method, f"/schedules/{schedule['id']}", headers, {} if method == "PATCH" else None
        )
        assert response.status_code == 404 and envelope_of(response)["code"] == 40400


async def test_schedule_list_filters_and_paginates_by_name(client, operator):
    _, headers = operator
    for name in ("b-sched", "a-sched", "c-sched"):
        await create(client, headers, name=name, task="scheduler.ping_async" if name == "c-sched" else "scheduler.ping")
    page = envelope_of(await call(client, "GET", "/schedules?page_size=2", headers))["data"]
    assert page["total"] == 3 and page["page"] == 1 and page["page_size"] == 2
    assert [item["name"] for item in page["items"]] == ["a-sched", "b-sched"]
    page2 = envelope_of(await call(client, "GET", "/schedules?page_size=2&page=2", headers))["data"]
    assert [item["name"] for item in page2["items"]] == ["c-sched"]
    only_async = envelope_of(await call(client, "GET", "/schedules?task=scheduler.ping_async", headers))["data"]
    assert [item["name"] for item in only_async["items"]] == ["c-sched"]
    await call(client, "PATCH", f"/schedules/{page['items'][0]['id']}", headers, {"enabled": False})
    disabled = envelope_of(await call(client, "GET", "/schedules?enabled=false", headers))["data"]
    assert [item["name"] for item in disabled["items"]] == ["a-sched"]


async def test_run_now_enqueues_the_task_and_records_the_run(client, operator, worker):
    _, headers = operator
    schedule = (await create(client, headers, kwargs={"message": "now!"}, enabled=False))[1]["data"]
    response = await call(client, "POST", f"/schedules/{schedule['id']}/run", headers)
    body = envelope_of(response)
    assert response.status_code == 202 and body["code"] == 0, body
    task_id = body["data"]["task_id"]
    record = await await_run(task_id, until=status_is("SUCCESS"))
    assert record["result"] == "now!"
    assert record["schedule"] == schedule["id"] and record["schedule_name"] == schedule["name"]

    api_record = envelope_of(await call(client, "GET", f"/task-runs/{task_id}", headers))["data"]
    assert api_record["task_id"] == task_id and api_record["status"] == "SUCCESS"
    assert set(api_record) >= {
        "task_id", "task", "schedule", "schedule_name", "status", "args", "kwargs", "result", "error",
        "traceback", "worker", "queued_at", "started_at", "finished_at", "duration_ms",
    }  # fmt: skip
    listed = envelope_of(await call(client, "GET", f"/task-runs?schedule={schedule['id']}", headers))["data"]
    assert [item["task_id"] for item in listed["items"]] == [task_id]


async def test_run_now_of_unknown_schedule_is_404(client, operator):
    _, headers = operator
    response = await call(client, "POST", "/schedules/999999/run", headers)
    assert response.status_code == 404 and envelope_of(response)["code"] == 40400


# --- task runs -------------------------------------------------------------------------------------------


async def seed_runs(task: str, schedule_id: int) -> list[str]:
    """Five runs of `task`, queued a minute apart (oldest first), in various states."""
    base = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    ids = [f"{task}-{n}" for n in range(5)]
    updates = []
    for n, task_id in enumerate(ids):
        queued_at = base + timedelta(minutes=n)
        updates.append(
            records.queued(
                task_id=task_id,
                task=task,
                args=[n],
                kwargs={},
                retries=0,
                at=queued_at,
                schedule_id=schedule_id if n % 2 == 0 else None,
            )
        )
        if n >= 1:
            updates.append(
                records.started(task_id=task_id, task=task, args=[n], kwargs={}, retries=0, worker="w", at=queued_at)
            )
        if n >= 3:
            updates.append(
                records.failed(
                    task_id=task_id,
                    task=task,
                    retries=0,
                    error=ValueError(f"bad {n}"),
                    traceback="Traceback ...",
                    at=queued_at + timedelta(seconds=1),
                    duration_ms=1000.0,
                )
            )
    for update in updates:
        writer.submit(update)
    await sync_to_async(flush_records)()
    return ids


async def test_task_runs_filters_order_and_pagination(client, operator):
    _, headers = operator
    task = f"tests.runs.{uuid.uuid4().hex[:8]}"
    schedule_id = 700000 + uuid.uuid4().int % 100000
    ids = await seed_runs(task, schedule_id)

    async def items(query):
        response = await call(client, "GET", f"/task-runs?task={task}&{query}", headers)
        assert response.status_code == 200, response.content
        return envelope_of(response)["data"]

    page = await items("page_size=2")
    assert page["total"] == 5 and page["page_size"] == 2
    assert [item["task_id"] for item in page["items"]] == [ids[4], ids[3]]  # newest first
    assert [item["task_id"] for item in (await items("page_size=2&page=3"))["items"]] == [ids[0]]
    failed = await items("status=FAILURE")
    assert [item["task_id"] for item in failed["items"]] == [ids[4], ids[3]]
    assert failed["items"][0]["error"] == "ValueError: bad 4"
    pending = await items("status=PENDING")
    assert [item["task_id"] for item in pending["items"]] == [ids[0]]
    by_schedule = await items(f"schedule={schedule_id}")
    assert [item["task_id"] for item in by_schedule["items"]] == [ids[4], ids[2], ids[0]]
    since = await items("since=2031-05-01T12:02:00Z")
    assert [item["task_id"] for item in since["items"]] == [ids[4], ids[3], ids[2]]
    window = await items("since=2031-05-01T12:01:00%2B00:00&until=2031-05-01T12:03:00Z")
    assert [item["task_id"] for item in window["items"]] == [ids[2], ids[1]]

    bad = await call(client, "GET", "/task-runs?status=LOST", headers)
    assert bad.status_code == 422 and envelope_of(bad)["code"] == 42200
    capped = await call(client, "GET", f"/task-runs?task={task}&page_size=1000", headers)
    assert envelope_of(capped)["data"]["page_size"] == 100


@pytest.mark.parametrize(
    "query",
    [
        "schedule=0",
        "schedule=-1",
        "schedule=9223372036854775808",
        "schedule=99999999999999999999999",
        "since=0001-01-01T00:00:00%2B05:00",
        "until=9999-12-31T23:00:00-05:00",
        "since=not-a-time",
        "task=" + "t" * 201,
    ],
)
async def test_task_run_filters_are_validated(client, operator, query):
    _, headers = operator
    response = await call(client, "GET", f"/task-runs?{query}", headers)
    body = envelope_of(response)
    assert response.status_code == 422 and body["code"] == 42200, body
    assert [item["loc"][-1] for item in body["data"]] == [query.split("=")[0]]


async def test_task_run_filters_at_their_limits_are_accepted(client, operator):
    _, headers = operator
    for query in (
        "schedule=9223372036854775807",
        "since=0001-01-01T00:00:00-05:00&until=9999-12-31T23:00:00%2B05:00&task=" + "t" * 200,
        "since=2031-05-01T12:00:00",  # naive: UTC
    ):
        response = await call(client, "GET", f"/task-runs?{query}", headers)
        assert response.status_code == 200, response.content


async def test_task_run_detail_and_404(client, operator):
    _, headers = operator
    task = f"tests.runs.{uuid.uuid4().hex[:8]}"
    ids = await seed_runs(task, 1)
    response = await call(client, "GET", f"/task-runs/{ids[4]}", headers)
    record = envelope_of(response)["data"]
    assert response.status_code == 200
    assert record["status"] == "FAILURE" and record["task"] == task and record["args"] == [4]
    assert record["traceback"] == "Traceback ..." and record["duration_ms"] == 1000.0
    assert record["queued_at"].startswith("2031-05-01T12:04:00")
    missing = await call(client, "GET", f"/task-runs/{uuid.uuid4()}", headers)
    assert missing.status_code == 404 and envelope_of(missing)["code"] == 40400


# --- access ----------------------------------------------------------------------------------------------


async def test_scheduling_needs_a_token(client):
    for method, path in (("GET", "/tasks/registered"), ("GET", "/schedules"), ("GET", "/task-runs")):
        response = await call(client, method, path, {})
        assert response.status_code == 401 and envelope_of(response)["code"] == 40100


async def test_scheduling_needs_the_operation_permission(client):
    _, headers = await signed_in("GET:/api/v1/schedules", username="reader")
    assert (await call(client, "GET", "/schedules", headers)).status_code == 200
    for method, path in (
        ("POST", "/schedules"),
        ("GET", "/tasks/registered"),
        ("GET", "/task-runs"),
        ("POST", "/schedules/1/run"),
        ("DELETE", "/schedules/1"),
    ):
        response = await call(client, method, path, headers, {} if method == "POST" else None)
        assert response.status_code == 403 and envelope_of(response)["code"] == 40300, (method, path)
    assert await PeriodicTask.objects.acount() == 0
