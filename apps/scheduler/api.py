"""Scheduling API: registered tasks, schedules (django-celery-beat), run now, task-run records."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from apps.core.envelope import also_answers
from apps.core.pagination import Page, PageIn
from apps.scheduler.schemas import (
    RegisteredTaskOut,
    RunNowOut,
    ScheduleFilter,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    TaskRunFilter,
    TaskRunOut,
)
from apps.scheduler.selectors import (
    registered_tasks,
    schedule_get,
    schedule_list,
    task_run_get,
    task_run_list,
)
from apps.scheduler.services import schedule_create, schedule_delete, schedule_run, schedule_update

router = Router(tags=["scheduler"])


@router.get("/tasks/registered", response=list[RegisteredTaskOut], summary="Tasks a schedule may run")
async def list_registered_tasks(request: HttpRequest) -> list[dict[str, str]]:
    return registered_tasks()


@router.get("/schedules", response=Page[ScheduleOut], summary="List schedules")
async def list_schedules(request: HttpRequest, filters: Query[ScheduleFilter], page: Query[PageIn]) -> dict[str, Any]:
    return await schedule_list(filters=filters, page=page)


@router.post("/schedules", response={201: ScheduleOut}, summary="Create a schedule", openapi_extra=also_answers(409))
async def create_schedule(request: HttpRequest, payload: ScheduleIn) -> Status[dict[str, Any]]:
    return Status(201, await schedule_create(data=payload))


@router.get("/schedules/{schedule_id}", response=ScheduleOut, summary="Get a schedule")
async def get_schedule(request: HttpRequest, schedule_id: int) -> dict[str, Any]:
    return await schedule_get(schedule_id=schedule_id)


@router.patch(
    "/schedules/{schedule_id}", response=ScheduleOut, summary="Change a schedule", openapi_extra=also_answers(409)
)
async def update_schedule(request: HttpRequest, schedule_id: int, payload: SchedulePatch) -> dict[str, Any]:
    return await schedule_update(schedule_id=schedule_id, data=payload)


@router.delete("/schedules/{schedule_id}", summary="Delete a schedule")
async def delete_schedule(request: HttpRequest, schedule_id: int) -> None:
    await schedule_delete(schedule_id=schedule_id)


@router.post("/schedules/{schedule_id}/run", response={202: RunNowOut}, summary="Run a schedule's task now")
async def run_schedule(request: HttpRequest, schedule_id: int) -> Status[dict[str, str]]:
    return Status(202, {"task_id": await schedule_run(schedule_id=schedule_id)})


@router.get("/task-runs", response=Page[TaskRunOut], summary="List task runs")
async def list_task_runs(request: HttpRequest, filters: Query[TaskRunFilter], page: Query[PageIn]) -> dict[str, Any]:
    return await task_run_list(filters=filters, page=page)


@router.get("/task-runs/{task_id}", response=TaskRunOut, summary="Get a task run")
async def get_task_run(request: HttpRequest, task_id: str) -> dict[str, Any]:
    return await task_run_get(task_id=task_id)
