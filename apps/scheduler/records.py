"""Task-run record updates: what each Celery event changes in a run's document, and the document's public shape.

Updates from different processes (the publisher writes PENDING, a worker writes STARTED/SUCCESS ...) may reach
MongoDB in any order, so each one is written to commute: the publisher only fills what is missing, and worker
updates carry the attempt number they belong to, so a late update of an older attempt never overwrites a newer
one.
"""

import json
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.scheduler.documents import RunStatus

TRUNCATED = "… [truncated]"

# Headers a publisher may add so the run is linked to a schedule without a lookup.
SCHEDULE_ID_HEADER = "schedule_id"
# Header django-celery-beat adds to every message it sends.
SCHEDULE_NAME_HEADER = "periodic_task_name"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED


def jsonable(value: Any, *, limit: int | None = None) -> Any:
    """`value` as plain JSON data when it is small enough, else its JSON text cut to `limit` characters."""
    limit = settings.TASK_RUN_RESULT_MAX_CHARS if limit is None else limit
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return truncate(value, limit)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return truncate(repr(value), limit)
    if len(text) <= limit:
        return json.loads(text)
    return truncate(text, limit)


def as_text(value: Any) -> str | None:
    """The JSON text of a value (fallback when a value cannot be stored as a document)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def describe_error(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    message = str(exc)
    return truncate(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, 2000)


def format_traceback(exc: BaseException | None) -> str | None:
    if exc is None or exc.__traceback__ is None:
        return None
    return "".join(traceback.format_exception(exc))


def trim_traceback(text: str | None) -> str | None:
    if not text:
        return None
    limit = settings.TASK_RUN_TRACEBACK_MAX_CHARS
    # Keep the end: the frame that raised and the exception line are what matter.
    return text if len(text) <= limit else TRUNCATED + text[-limit:]


@dataclass(frozen=True)
class RunUpdate:
    """One change of a run's document, applied as a single upsert."""

    task_id: str
    set: dict[str, Any] = field(default_factory=dict)
    set_on_insert: dict[str, Any] = field(default_factory=dict)
    min: dict[str, Any] = field(default_factory=dict)
    # Applies only while the stored attempt is not newer than this one; None: no condition.
    attempt: int | None = None
    # A schedule known by name only (beat's header) is resolved to its id before writing.
    schedule_name: str | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {"task_id": self.task_id}
        if self.attempt is not None:
            query["retries"] = {"$lte": self.attempt}
        return query

    def update(self) -> dict[str, Any]:
        update: dict[str, Any] = {}
        if self.set:
            update["$set"] = self.set
        on_insert = {k: v for k, v in self.set_on_insert.items() if k not in self.set and k not in self.min}
        if on_insert:
            update["$setOnInsert"] = on_insert
        if self.min:
            update["$min"] = self.min
        return update

    def with_schedule(self, schedule_id: int | None) -> "RunUpdate":
        values = dict(self.set)
        if self.schedule_name:
            values["schedule_name"] = self.schedule_name
        if schedule_id is not None:
            values["schedule"] = schedule_id
        return replace(self, set=values, schedule_name=None)

    def as_text_values(self) -> "RunUpdate":
        """The same update with args, kwargs and result stored as JSON text (when the values are refused)."""

        def texts(values: dict[str, Any]) -> dict[str, Any]:
            return {k: as_text(v) if k in ("args", "kwargs", "result") else v for k, v in values.items()}

        return replace(self, set=texts(self.set), set_on_insert=texts(self.set_on_insert))


def _identity(task: str, args: Any, kwargs: Any) -> dict[str, Any]:
    return {"task": task, "args": jsonable(args), "kwargs": jsonable(kwargs)}


def _schedule_fields(schedule_id: Any, schedule_name: Any, *, resolve: bool) -> tuple[dict[str, Any], str | None]:
    """($set fields, name still to resolve to an id) for the schedule headers of a message.

    Only the first publish resolves a name (beat tells names only); workers never query the database for it:
    Celery closes their connection pool around every task.
    """
    values: dict[str, Any] = {}
    try:
        parsed_id = int(schedule_id) if schedule_id is not None else None
    except (TypeError, ValueError):
        parsed_id = None
    name = str(schedule_name) if schedule_name else None
    if parsed_id is not None:
        values["schedule"] = parsed_id
    if name and (parsed_id is not None or not resolve):
        values["schedule_name"] = name
    return values, name if resolve and parsed_id is None else None


def queued(
    *,
    task_id: str,
    task: str,
    args: Any,
    kwargs: Any,
    retries: int,
    at: datetime,
    schedule_id: Any = None,
    schedule_name: Any = None,
    retry_cause: BaseException | None = None,
    duration_ms: float | None = None,
) -> RunUpdate:
    """A message was published. A redelivery only fills what is still missing; a retry marks attempt
    `retries - 1` as RETRY (before the next attempt can start, so the change is never lost to a race)."""
    values, unresolved = _schedule_fields(schedule_id, schedule_name, resolve=retries == 0)
    identity = _identity(task, args, kwargs)
    if retries > 0:
        return RunUpdate(
            task_id=task_id,
            set={
                **values,
                "status": RunStatus.RETRY.value,
                "retries": retries - 1,
                "finished_at": None,
                "error": describe_error(retry_cause),
                "traceback": trim_traceback(format_traceback(retry_cause)),
                "duration_ms": duration_ms,
            },
            set_on_insert={**identity, "queued_at": at},
            attempt=retries - 1,
            schedule_name=unresolved,
        )
    return RunUpdate(
        task_id=task_id,
        set=values,
        set_on_insert={**identity, "status": RunStatus.PENDING.value, "retries": 0},
        min={"queued_at": at},
        schedule_name=unresolved,
    )


def started(
    *,
    task_id: str,
    task: str,
    args: Any,
    kwargs: Any,
    retries: int,
    worker: str | None,
    at: datetime,
    schedule_id: Any = None,
    schedule_name: Any = None,
) -> RunUpdate:
    values, unresolved = _schedule_fields(schedule_id, schedule_name, resolve=False)
    values.update(
        status=RunStatus.STARTED.value,
        retries=retries,
        worker=worker,
        started_at=at,
        finished_at=None,
        duration_ms=None,
        result=None,
        error=None,
        traceback=None,
    )
    return RunUpdate(
        task_id=task_id,
        set=values,
        set_on_insert={**_identity(task, args, kwargs), "queued_at": at},
        attempt=retries,
        schedule_name=unresolved,
    )


def _ended(
    *,
    task_id: str,
    task: str,
    retries: int | None,
    at: datetime,
    values: dict[str, Any],
    args: Any = None,
    kwargs: Any = None,
) -> RunUpdate:
    """The end of attempt `retries`; None: of whatever attempt is current (known only to the pool process)."""
    return RunUpdate(
        task_id=task_id,
        set={"retries": retries, **values} if retries is not None else values,
        set_on_insert={**_identity(task, args, kwargs), "queued_at": at, "retries": 0},
        attempt=retries,
    )


def succeeded(
    *, task_id: str, task: str, retries: int, result: Any, at: datetime, duration_ms: float | None
) -> RunUpdate:
    return _ended(
        task_id=task_id,
        task=task,
        retries=retries,
        at=at,
        values={
            "status": RunStatus.SUCCESS.value,
            "result": jsonable(result),
            "error": None,
            "traceback": None,
            "finished_at": at,
            "duration_ms": duration_ms,
        },
    )


def failed(
    *,
    task_id: str,
    task: str,
    retries: int | None,
    error: BaseException | None,
    traceback: str | None,
    at: datetime,
    duration_ms: float | None,
    args: Any = None,
    kwargs: Any = None,
) -> RunUpdate:
    return _ended(
        task_id=task_id,
        task=task,
        retries=retries,
        at=at,
        args=args,
        kwargs=kwargs,
        values={
            "status": RunStatus.FAILURE.value,
            "error": describe_error(error),
            "traceback": trim_traceback(traceback),
            "finished_at": at,
            "duration_ms": duration_ms,
        },
    )


def retrying(
    *,
    task_id: str,
    task: str,
    retries: int,
    reason: BaseException | None,
    traceback: str | None,
    at: datetime,
    duration_ms: float | None,
) -> RunUpdate:
    """Attempt `retries` failed and another one was scheduled."""
    return _ended(
        task_id=task_id,
        task=task,
        retries=retries,
        at=at,
        values={
            "status": RunStatus.RETRY.value,
            "error": describe_error(reason),
            "traceback": trim_traceback(traceback),
            "finished_at": None,
            "duration_ms": duration_ms,
        },
    )


def revoked(*, task_id: str, task: str, reason: str, at: datetime) -> RunUpdate:
    return RunUpdate(
        task_id=task_id,
        set={"status": RunStatus.FAILURE.value, "error": reason, "finished_at": at},
        set_on_insert={**_identity(task, None, None), "queued_at": at, "retries": 0},
    )


RECORD_FIELDS = (
    "task_id",
    "task",
    "schedule",
    "schedule_name",
    "status",
    "retries",
    "args",
    "kwargs",
    "result",
    "error",
    "traceback",
    "worker",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_ms",
)


def record_of(document: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a run document (API items and task.run pushes)."""
    record = {name: document.get(name) for name in RECORD_FIELDS}
    record["retries"] = record["retries"] or 0
    return record


def pushable(record: dict[str, Any]) -> dict[str, Any]:
    """A record with ISO-8601 timestamps (channel layers serialize with msgpack, which has no datetimes)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}
