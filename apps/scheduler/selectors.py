"""Reads: registered tasks, schedules (django-celery-beat rows) and task-run records (MongoDB)."""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from celery import current_app
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from apps.core.exceptions import NotFound
from apps.core.pagination import PageIn, page_of, paginate_queryset
from apps.org.selectors import mongo_user_filter
from apps.scheduler.documents import TaskRun
from apps.scheduler.records import record_of
from apps.scheduler.schemas import ScheduleFilter, TaskRunFilter

SCHEDULE_RELATIONS = ("interval", "crontab", "clocked", "solar")


# --- registered tasks ------------------------------------------------------------------------------------


_task_modules = {"imported": False}


def _import_task_modules() -> None:
    # Once per process: Celery's import hook also runs Django's system checks, far too slow per request.
    if not _task_modules["imported"]:
        current_app.loader.import_default_modules()
        _task_modules["imported"] = True


def is_internal_task(name: str) -> bool:
    """A task only the project itself sends (declared with `schedulable=False`, e.g. the mail sender, which
    would mail whatever its arguments say): never offered for, nor accepted in, a schedule."""
    _import_task_modules()
    found = current_app.tasks.get(name)
    return found is not None and getattr(found, "schedulable", True) is False


def registered_task_names() -> list[str]:
    """The project's tasks a schedule may run (Celery's own `celery.*` tasks and internal ones excluded), sorted."""
    _import_task_modules()
    return sorted(name for name in current_app.tasks if not name.startswith("celery.") and not is_internal_task(name))


def registered_tasks() -> list[dict[str, str]]:
    tasks = current_app.tasks
    items = []
    for name in registered_task_names():
        doc = (tasks[name].__doc__ or "").strip()
        items.append({"name": name, "description": doc.splitlines()[0].strip() if doc else ""})
    return items


# --- schedules -------------------------------------------------------------------------------------------


def loads_json(text: str | None, default: Any, kind: type) -> Any:
    """A JSON column of django-celery-beat, or `default` when it is not valid JSON of the expected kind."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return default
    return value if isinstance(value, kind) else default


def schedule_spec(task: PeriodicTask) -> dict[str, Any]:
    """The `schedule` object of a periodic task (its relations must be loaded: select_related)."""
    if task.interval is not None:
        return {"type": "interval", "every": task.interval.every, "period": task.interval.period}
    if task.crontab is not None:
        cron = task.crontab
        return {
            "type": "crontab",
            "minute": cron.minute,
            "hour": cron.hour,
            "day_of_week": cron.day_of_week,
            "day_of_month": cron.day_of_month,
            "month_of_year": cron.month_of_year,
            "timezone": str(cron.timezone),
        }
    if task.clocked is not None:
        return {"type": "clocked", "run_at": task.clocked.clocked_time}
    if task.solar is not None:
        solar = task.solar
        return {
            "type": "solar",
            "event": solar.event,
            "latitude": float(solar.latitude),
            "longitude": float(solar.longitude),
        }
    raise ValueError(f"periodic task {task.pk} has no schedule")


def schedule_out(task: PeriodicTask) -> dict[str, Any]:
    return {
        "id": task.pk,
        "name": task.name,
        "task": task.task,
        "enabled": task.enabled,
        "one_off": task.one_off,
        "args": loads_json(task.args, [], list),
        "kwargs": loads_json(task.kwargs, {}, dict),
        "schedule": schedule_spec(task),
        "last_run_at": task.last_run_at,
        "total_run_count": task.total_run_count,
        "description": task.description or "",
    }


async def schedule_get(*, schedule_id: int) -> dict[str, Any]:
    try:
        task = await PeriodicTask.objects.select_related(*SCHEDULE_RELATIONS).aget(pk=schedule_id)
    except PeriodicTask.DoesNotExist:
        raise NotFound(_("schedule not found")) from None
    return schedule_out(task)


async def schedule_list(*, filters: ScheduleFilter, page: PageIn) -> dict[str, Any]:
    queryset = PeriodicTask.objects.select_related(*SCHEDULE_RELATIONS).order_by("name", "id")
    if filters.task:
        queryset = queryset.filter(task=filters.task)
    if filters.enabled is not None:
        queryset = queryset.filter(enabled=filters.enabled)
    result = await paginate_queryset(queryset, page)
    result["items"] = [schedule_out(task) for task in result["items"]]
    return result


# --- task runs -------------------------------------------------------------------------------------------

RUN_ORDER = ("-queued_at", "-id")


def task_run_query(filters: TaskRunFilter) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if filters.task:
        query["task"] = filters.task
    if filters.schedule is not None:
        query["schedule"] = filters.schedule
    if filters.status is not None:
        query["status"] = filters.status.value
    queued: dict[str, datetime] = {}  # both already aware UTC (apps.core.schemas.UtcDatetime)
    if filters.since is not None:
        queued["$gte"] = filters.since
    if filters.until is not None:
        queued["$lt"] = filters.until
    if queued:
        query["queued_at"] = queued
    return query


def task_run_page_sync(query: dict[str, Any], *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of run records matching a raw query, newest first, and the total."""
    # The caller's data scope (apps/org): runs carry the id of the user who started them, if one did.
    queryset = TaskRun.objects(__raw__=mongo_user_filter(query))
    total = queryset.count()
    documents = queryset.order_by(*RUN_ORDER).skip(offset).limit(limit).as_pymongo()
    return [record_of(document) for document in documents], total


def task_run_export_sync(
    query: dict[str, Any], *, fields: Sequence[str], limit: int
) -> tuple[int, Iterator[dict[str, Any]]]:
    """The total matching a raw query and a lazy iterator over at most `limit` runs (only `fields`), newest first."""
    queryset = TaskRun.objects(__raw__=mongo_user_filter(query))
    total = queryset.count()  # here, so an unavailable MongoDB is known before anything is streamed
    documents = queryset.order_by(*RUN_ORDER).only(*fields).limit(limit).as_pymongo()
    return total, ({name: document.get(name) for name in fields} for document in documents)


def task_run_get_sync(task_id: str) -> dict[str, Any] | None:
    document = TaskRun.objects(__raw__=mongo_user_filter({"task_id": task_id})).as_pymongo().first()
    return record_of(document) if document is not None else None


_task_run_page = sync_to_async(task_run_page_sync, thread_sensitive=False)
_task_run_get = sync_to_async(task_run_get_sync, thread_sensitive=False)


async def task_run_list(*, filters: TaskRunFilter, page: PageIn) -> dict[str, Any]:
    items, total = await _task_run_page(task_run_query(filters), offset=page.offset, limit=page.size)
    return page_of(items, total=total, page=page)


async def task_run_get(*, task_id: str) -> dict[str, Any]:
    record = await _task_run_get(task_id)
    if record is None:
        raise NotFound(_("task run not found"))
    return record
