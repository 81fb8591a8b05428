"""Celery signal handlers that keep a run record for every task: queued, started, success, failure, retry.

Handlers only build an update and hand it to the background writer: a task never waits for (or fails because
of) MongoDB or the channel layer.
"""

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.exceptions import Retry
from celery.signals import (
    before_task_publish,
    task_failure,
    task_prerun,
    task_retry,
    task_revoked,
    task_success,
    worker_process_shutdown,
    worker_shutdown,
)

from apps.scheduler import records, writer
from apps.scheduler.base import retry_cause

logger = logging.getLogger("apps.scheduler.records")

RETRY_WRITE_WAIT = 1.0  # seconds

# perf_counter() at start, per task id, to measure each attempt in the process that runs it.
_started: dict[str, float] = {}
# Retries already recorded when the next attempt was published (the task_retry signal then adds nothing).
_retry_published: set[str] = set()


def _now() -> datetime:
    return datetime.now(UTC)


def _elapsed_ms(task_id: str | None) -> float | None:
    start = _started.pop(task_id, None) if task_id else None
    return round((time.perf_counter() - start) * 1000, 3) if start is not None else None


def _submit(build: Any, *, wait: float | None = None, **kwargs: Any) -> None:
    try:
        writer.submit(build(**kwargs), wait=wait)
    except Exception:  # recording must never break publishing or running a task
        logger.exception("task-run record update could not be queued", extra={"task_id": kwargs.get("task_id")})


def _message_payload(body: Any) -> tuple[Any, Any]:
    if isinstance(body, tuple | list) and len(body) >= 2:  # protocol 2: (args, kwargs, embed)
        return body[0], body[1]
    if isinstance(body, Mapping):  # protocol 1
        return body.get("args"), body.get("kwargs")
    return None, None


@before_task_publish.connect(dispatch_uid="scheduler.records.published")
def on_published(
    sender: str | None = None, body: Any = None, headers: Mapping[str, Any] | None = None, **_: Any
) -> None:
    headers = headers or {}
    body_fields = body if isinstance(body, Mapping) else {}
    task_id = headers.get("id") or body_fields.get("id")
    task_name = headers.get("task") or body_fields.get("task") or sender
    if not task_id or not task_name:
        return
    args, kwargs = _message_payload(body)
    retries = int(headers.get("retries") or 0)
    _submit(
        records.queued,
        # A retry is published by the worker running the task: wait (briefly) until the RETRY state is
        # written, so it lands before the next attempt's STARTED from whichever process picks it up.
        wait=RETRY_WRITE_WAIT if retries else None,
        task_id=str(task_id),
        task=str(task_name),
        args=args,
        kwargs=kwargs,
        retries=retries,
        at=_now(),
        schedule_id=headers.get(records.SCHEDULE_ID_HEADER),
        schedule_name=headers.get(records.SCHEDULE_NAME_HEADER),
        retry_cause=retry_cause(str(task_id)) if retries else None,
        duration_ms=_elapsed_ms(str(task_id)) if retries else None,
    )
    if retries:
        _retry_published.add(str(task_id))


@task_prerun.connect(dispatch_uid="scheduler.records.started")
def on_started(
    sender: Task[Any, Any] | None = None,
    task_id: str | None = None,
    task: Task[Any, Any] | None = None,
    args: Any = None,
    kwargs: Any = None,
    **_: Any,
) -> None:
    task = task or sender
    if task is None or not task_id:
        return
    _started[task_id] = time.perf_counter()
    _retry_published.discard(task_id)
    request = task.request
    _submit(
        records.started,
        task_id=task_id,
        task=task.name,
        args=args,
        kwargs=kwargs,
        retries=int(request.retries or 0),
        worker=request.hostname,
        at=_now(),
        schedule_id=getattr(request, records.SCHEDULE_ID_HEADER, None),
        schedule_name=getattr(request, records.SCHEDULE_NAME_HEADER, None),
    )


@task_success.connect(dispatch_uid="scheduler.records.succeeded")
def on_succeeded(sender: Task[Any, Any] | None = None, result: Any = None, **_: Any) -> None:
    if sender is None or not sender.request.id:
        return
    task_id = sender.request.id
    _submit(
        records.succeeded,
        task_id=task_id,
        task=sender.name,
        retries=int(sender.request.retries or 0),
        result=result,
        at=_now(),
        duration_ms=_elapsed_ms(task_id),
    )


@task_failure.connect(dispatch_uid="scheduler.records.failed")
def on_failed(
    sender: Task[Any, Any] | None = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    if sender is None or not task_id:
        return
    # A hard time limit is reported by the worker's main process, which does not know the attempt number.
    request = sender.request
    _submit(
        records.failed,
        task_id=task_id,
        task=sender.name,
        retries=int(request.retries or 0) if request.id == task_id else None,
        error=exception,
        traceback=getattr(einfo, "traceback", None),
        at=_now(),
        duration_ms=_elapsed_ms(task_id),
        args=args,
        kwargs=kwargs,
    )


@task_retry.connect(dispatch_uid="scheduler.records.retrying")
def on_retrying(
    sender: Task[Any, Any] | None = None, request: Any = None, reason: Any = None, einfo: Any = None, **_: Any
) -> None:
    task_id = getattr(request, "id", None)
    if sender is None or not task_id:
        return
    if task_id in _retry_published:
        # Written before the next attempt was published; a second write now could land (and be pushed)
        # after that attempt already started in another process.
        _retry_published.discard(task_id)
        return
    cause = _retry_cause(reason)
    _submit(
        records.retrying,
        task_id=task_id,
        task=sender.name,
        retries=int(getattr(request, "retries", 0) or 0),
        reason=cause,
        traceback=records.format_traceback(cause) or getattr(einfo, "traceback", None),
        at=_now(),
        duration_ms=_elapsed_ms(task_id),
    )


def _retry_cause(reason: Any) -> BaseException | None:
    """The exception behind a retry (`self.retry(exc=...)`), rather than Celery's Retry wrapper."""
    if isinstance(reason, Retry) and isinstance(reason.exc, BaseException):
        return reason.exc
    return reason if isinstance(reason, BaseException) else None


@task_revoked.connect(dispatch_uid="scheduler.records.revoked")
def on_revoked(
    sender: Task[Any, Any] | None = None,
    request: Any = None,
    terminated: bool = False,
    expired: bool = False,
    **_: Any,
) -> None:
    task_id = getattr(request, "id", None)
    if not task_id:
        return
    _started.pop(task_id, None)
    reason = "Expired" if expired else "Terminated" if terminated else "Revoked"
    _submit(
        records.revoked,
        task_id=task_id,
        task=getattr(sender, "name", None) or getattr(request, "name", None) or "unknown",
        reason=reason,
        at=_now(),
    )


@worker_process_shutdown.connect(dispatch_uid="scheduler.records.flush_process")
@worker_shutdown.connect(dispatch_uid="scheduler.records.flush_worker")
def on_shutdown(**_: Any) -> None:
    if not writer.flush(timeout=5.0):
        logger.error("task-run records still pending at worker shutdown")
