"""Writes: schedules (django-celery-beat rows) and running a schedule's task now.

Every change goes through `PeriodicTask.save()` / `.delete()`, which bump django-celery-beat's change marker
(PeriodicTasks), so a running beat reloads its schedule on its next tick without a restart.
"""

import inspect
import json
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask
from kombu.exceptions import OperationalError

from apps.core.exceptions import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from apps.scheduler.records import SCHEDULE_ID_HEADER, SCHEDULE_NAME_HEADER
from apps.scheduler.schemas import ClockedSpec, CrontabSpec, IntervalSpec, ScheduleIn, SchedulePatch
from apps.scheduler.selectors import loads_json, registered_task_names, schedule_get

BODY = ["body", "payload"]
SCHEDULE_FIELDS = ("interval", "crontab", "clocked", "solar")

Spec = IntervalSpec | CrontabSpec | ClockedSpec


def _ensure_registered(task: str) -> None:
    if task not in registered_task_names():
        raise ValidationFailed(_("unknown task %(task)r: see /tasks/registered") % {"task": task}, loc=[*BODY, "task"])


def check_arguments(task_name: str, args: list[Any], kwargs: dict[str, Any], *, loc: Sequence[str | int]) -> None:
    """Refuse args/kwargs the task cannot be called with: now (42200), not as a failure at every run.

    `loc` is where the arguments came from; the error points at its "args" or "kwargs".
    """
    task = current_app.tasks.get(task_name)
    if task is None or not task.typing:  # typing=False: the task opted out of Celery's argument checks too
        return
    try:
        signature = inspect.signature(task.run)
    except (TypeError, ValueError):  # nothing to introspect (e.g. a C callable): leave it to the worker
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ValidationFailed(
            f"args and kwargs do not fit {task_name}{_shown(signature)}: {exc}",
            loc=[*loc, _culprit(signature, args, kwargs)],
        ) from None


def _shown(signature: inspect.Signature) -> str:
    return str(signature.replace(return_annotation=inspect.Signature.empty))


def _culprit(signature: inspect.Signature, args: list[Any], kwargs: dict[str, Any]) -> str:
    """Which of args/kwargs a mismatch is blamed on: kwargs only when they are what does not fit."""
    try:
        signature.bind_partial(*args)
    except TypeError:
        return "args"  # too many positional arguments
    try:
        signature.bind_partial(*args, **kwargs)
    except TypeError:
        return "kwargs"  # an unknown keyword, or one the positional arguments already gave
    return "args"  # only something missing


def _name_taken() -> Conflict:
    return Conflict("a schedule with this name already exists")


def _schedule_rows(spec: Spec) -> dict[str, Any]:
    """The schedule relations of a periodic task for `spec`; interval and crontab rows are shared."""
    rows: dict[str, Any] = dict.fromkeys(SCHEDULE_FIELDS)
    if isinstance(spec, IntervalSpec):
        interval = IntervalSchedule.objects.filter(every=spec.every, period=spec.period).order_by("id").first()
        rows["interval"] = interval or IntervalSchedule.objects.create(every=spec.every, period=spec.period)
    elif isinstance(spec, CrontabSpec):
        fields = {
            "minute": spec.minute,
            "hour": spec.hour,
            "day_of_week": spec.day_of_week,
            "day_of_month": spec.day_of_month,
            "month_of_year": spec.month_of_year,
            "timezone": spec.timezone or settings.TIME_ZONE,
        }
        crontab = CrontabSchedule.objects.filter(**fields).order_by("id").first()
        rows["crontab"] = crontab or CrontabSchedule.objects.create(**fields)
    else:
        rows["clocked"] = ClockedSchedule.objects.create(clocked_time=spec.run_at)
    return rows


def _drop_orphan_clocked(clocked_id: int | None) -> None:
    # A clocked time belongs to the one task it was made for; interval/crontab rows are shared and stay.
    if clocked_id is not None and not PeriodicTask.objects.filter(clocked_id=clocked_id).exists():
        ClockedSchedule.objects.filter(pk=clocked_id).delete()


def _save(task: PeriodicTask) -> None:
    if task.clocked_id is not None and not task.one_off:
        raise ValidationFailed(_("a clocked schedule runs once: one_off must be true"), loc=[*BODY, "one_off"])
    try:
        with transaction.atomic():  # a savepoint, so an IntegrityError leaves the outer block usable
            task.save()
    except DjangoValidationError as exc:
        if "name" in getattr(exc, "error_dict", {}):
            raise _name_taken() from None
        raise ValidationFailed("; ".join(exc.messages), loc=[*BODY, "schedule"]) from None
    except IntegrityError:
        raise _name_taken() from None


@sync_to_async
@transaction.atomic
def _create(data: ScheduleIn) -> int:
    one_off = data.one_off if data.one_off is not None else isinstance(data.schedule, ClockedSpec)
    task = PeriodicTask(
        name=data.name,
        task=data.task,
        enabled=data.enabled,
        one_off=one_off,
        args=json.dumps(data.args),
        kwargs=json.dumps(data.kwargs),
        description=data.description,
        **_schedule_rows(data.schedule),
    )
    _save(task)
    return int(task.pk)


async def schedule_create(*, data: ScheduleIn) -> dict[str, Any]:
    _ensure_registered(data.task)
    check_arguments(data.task, data.args, data.kwargs, loc=BODY)
    if await PeriodicTask.objects.filter(name=data.name).aexists():
        raise _name_taken()
    schedule_id = await _create(data)
    return await schedule_get(schedule_id=schedule_id)


@sync_to_async
@transaction.atomic
def _update(schedule_id: int, data: SchedulePatch) -> None:
    try:
        task = PeriodicTask.objects.select_for_update().get(pk=schedule_id)
    except PeriodicTask.DoesNotExist:
        raise NotFound(_("schedule not found")) from None
    sent = data.model_fields_set
    if "name" in sent and data.name != task.name:
        if PeriodicTask.objects.filter(name=data.name).exclude(pk=task.pk).exists():
            raise _name_taken()
        task.name = data.name
    if "task" in sent:
        task.task = data.task
    old_clocked = task.clocked_id
    if data.schedule is not None:
        for field, row in _schedule_rows(data.schedule).items():
            setattr(task, field, row)
        if "one_off" not in sent:
            task.one_off = isinstance(data.schedule, ClockedSpec)
    if data.one_off is not None:
        task.one_off = data.one_off
    if data.enabled is not None:
        task.enabled = data.enabled
    if data.args is not None:
        task.args = json.dumps(data.args)
    if data.kwargs is not None:
        task.kwargs = json.dumps(data.kwargs)
    if data.description is not None:
        task.description = data.description
    if sent & {"task", "args", "kwargs"}:
        # The stored values count for what was not sent (a new task must take the old arguments).
        check_arguments(task.task, loads_json(task.args, [], list), loads_json(task.kwargs, {}, dict), loc=BODY)
    _save(task)
    if old_clocked != task.clocked_id:
        _drop_orphan_clocked(old_clocked)


async def schedule_update(*, schedule_id: int, data: SchedulePatch) -> dict[str, Any]:
    if data.task is not None:
        _ensure_registered(data.task)
    await _update(schedule_id, data)
    return await schedule_get(schedule_id=schedule_id)


@sync_to_async
@transaction.atomic
def _delete(schedule_id: int) -> None:
    task = PeriodicTask.objects.select_for_update().filter(pk=schedule_id).first()
    if task is None:
        raise NotFound(_("schedule not found"))
    clocked_id = task.clocked_id
    task.delete()
    _drop_orphan_clocked(clocked_id)


async def schedule_delete(*, schedule_id: int) -> None:
    await _delete(schedule_id)


def _publish(row: PeriodicTask) -> str:
    task = current_app.tasks[row.task]
    args, kwargs = loads_json(row.args, [], list), loads_json(row.kwargs, {}, dict)
    # Schedules made in the admin (or before the task changed) may not fit: Celery would raise TypeError.
    check_arguments(row.task, args, kwargs, loc=[])
    headers = loads_json(row.headers, {}, dict)
    headers.update({SCHEDULE_NAME_HEADER: row.name, SCHEDULE_ID_HEADER: row.pk})
    # The same delivery options beat would use for this row.
    options = {
        option: getattr(row, option)
        for option in ("queue", "exchange", "routing_key", "priority")
        if getattr(row, option) is not None
    }
    try:
        result = task.apply_async(args=args, kwargs=kwargs, headers=headers, **options)
    except OperationalError:
        raise ServiceUnavailable(_("the task broker is unavailable")) from None
    return str(result.id)


async def schedule_run(*, schedule_id: int) -> str:
    """Enqueue the schedule's task now (whether or not the schedule is enabled); returns the task id."""
    try:
        row = await PeriodicTask.objects.aget(pk=schedule_id)
    except PeriodicTask.DoesNotExist:
        raise NotFound(_("schedule not found")) from None
    if row.task not in registered_task_names():
        raise ValidationFailed(_("the schedule's task %(task)r is not registered") % {"task": row.task}, loc=["task"])
    return await sync_to_async(_publish)(row)
