"""The per-process writer of task-run records: tasks never wait for MongoDB or the channel layer.

Signal handlers hand RunUpdates to `submit()`; one thread applies them in order (one upsert each), then pushes
the resulting record to realtime. While MongoDB is unreachable the writer keeps the head update and retries with
back-off, buffering up to TASK_RUN_BUFFER_SIZE updates (newer ones are dropped beyond it, and counted in the
logs). Pending updates are flushed when a worker process or the interpreter exits.
"""

import asyncio
import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from bson.errors import BSONError
from django.conf import settings
from django.db import connections
from pymongo import ReturnDocument
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from apps.scheduler import documents
from apps.scheduler.events import push_task_run
from apps.scheduler.records import RunUpdate, pushable, record_of

logger = logging.getLogger("apps.scheduler.records")

PUSH_TIMEOUT = 2.0
MAX_BACKOFF = 5.0


def resolve_schedule_id(name: str) -> int | None:
    """The id of the PeriodicTask named `name` (beat only tells the name)."""
    from django_celery_beat.models import PeriodicTask

    try:
        return PeriodicTask.objects.filter(name=name).values_list("id", flat=True).first()
    except Exception:
        logger.warning("could not resolve schedule %r of a task run", name, exc_info=True)
        return None
    finally:
        # This thread lives as long as the process: do not keep a database connection open for it.
        connections.close_all()


class RecordWriter:
    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self.pid = os.getpid()
        self._queue: deque[tuple[RunUpdate, threading.Event | None]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._dropped = 0
        self._failing = False
        self._indexes_ready = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, name="task-run-writer", daemon=True)
        self._thread.start()

    # --- producer side -------------------------------------------------------------------------------

    def submit(self, update: RunUpdate, *, wait: float | None = None) -> bool:
        """Queue `update`; with `wait`, block up to that many seconds until it was applied. False if not."""
        done = threading.Event() if wait else None
        with self._cond:
            if len(self._queue) >= self.capacity:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    logger.error(
                        "task-run buffer full: dropping records",
                        extra={"dropped": self._dropped, "capacity": self.capacity},
                    )
                return False
            self._queue.append((update, done))
            self._cond.notify_all()
        return done.wait(wait) if done is not None and wait else True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted update was applied (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    # --- writer thread ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                update, done = self._queue.popleft()
                self._busy = True
            try:
                self._handle(update)
            except Exception:  # never let one bad update stop the writer
                logger.exception("task-run record update failed", extra={"task_id": update.task_id})
            finally:
                if done is not None:
                    done.set()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _handle(self, update: RunUpdate) -> None:
        if update.schedule_name:
            update = update.with_schedule(resolve_schedule_id(update.schedule_name))
        document = self._store(update)
        if document is not None:
            self._push(record_of(document))

    def _store(self, update: RunUpdate) -> dict[str, Any] | None:
        backoff = 0.25
        while True:
            try:
                return self._upsert(update)
            except ConnectionFailure as exc:
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "MongoDB unreachable: task-run records are buffered and retried",
                        extra={"error_type": type(exc).__name__, "pending": self.pending()},
                    )
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except DuplicateKeyError as exc:
                if "did not settle" in str(exc):
                    logger.warning("task-run update lost to concurrent inserts", extra={"task_id": update.task_id})
                else:
                    logger.debug("stale task-run update skipped", extra={"task_id": update.task_id})
                return None  # the document already holds a newer attempt: this update is stale
            except (OperationFailure, BSONError, OverflowError, TypeError, ValueError):
                # A value MongoDB refuses (odd keys, huge ints): keep the status change, store values as text.
                logger.warning("task-run values refused; storing them as text", extra={"task_id": update.task_id})
                try:
                    return self._upsert(update.as_text_values())
                except DuplicateKeyError:
                    return None
                except Exception:
                    logger.exception("task-run record could not be written", extra={"task_id": update.task_id})
                    return None

    def _upsert(self, update: RunUpdate) -> dict[str, Any] | None:
        # Every update is idempotent, so applying it again after a collision is safe.
        for pause in (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0):
            time.sleep(pause)
            try:
                document = self._write(update)
            except DuplicateKeyError:
                # Another process inserted this run's document while we tried to (then the update applies
                # on a retry), or the document already holds a newer attempt (then this update is stale).
                if update.attempt is not None and self._has_newer_attempt(update):
                    raise
                continue
            if document is not None:
                return document
            # An upsert answering "no document" lost a race with a concurrent insert without an error (the
            # MongoDB-wire server used in development does this): apply it again.
        raise DuplicateKeyError(f"task run {update.task_id}: concurrent inserts did not settle")

    @staticmethod
    def _has_newer_attempt(update: RunUpdate) -> bool:
        query = {"task_id": update.task_id, "retries": {"$gt": update.attempt}}
        return documents.collection().count_documents(query, limit=1) > 0

    def _write(self, update: RunUpdate) -> dict[str, Any] | None:
        if not self._indexes_ready:
            try:
                documents.ensure_indexes()
            except OperationFailure:
                logger.exception("task-run indexes could not be created")
            self._indexes_ready = True
        document = documents.collection().find_one_and_update(
            update.query(), update.update(), upsert=True, return_document=ReturnDocument.AFTER
        )
        if self._failing:
            self._failing = False
            logger.warning("MongoDB reachable again: task-run records are written", extra={"pending": self.pending()})
        return document

    def _push(self, record: dict[str, Any]) -> None:
        assert self._loop is not None
        try:
            self._loop.run_until_complete(asyncio.wait_for(push_task_run(pushable(record)), PUSH_TIMEOUT))
        except Exception as exc:
            logger.warning(
                "task.run push failed", extra={"task_id": record.get("task_id"), "error_type": type(exc).__name__}
            )


_state: dict[str, Any] = {"writer": None, "lock": threading.Lock()}


def _reset_after_fork() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    _state["lock"] = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def writer() -> RecordWriter:
    """This process's writer (a forked child starts its own)."""
    current: RecordWriter | None = _state["writer"]
    if current is not None and current.pid == os.getpid():
        return current
    with _state["lock"]:
        current = _state["writer"]
        if current is None or current.pid != os.getpid():
            current = RecordWriter(capacity=settings.TASK_RUN_BUFFER_SIZE)
            _state["writer"] = current
        return current


def submit(update: RunUpdate, *, wait: float | None = None) -> bool:
    return writer().submit(update, wait=wait)


def flush(timeout: float = 5.0) -> bool:
    current: RecordWriter | None = _state["writer"]
    if current is None or current.pid != os.getpid():
        return True
    return current.flush(timeout)


def _flush_at_exit() -> None:
    if not flush(timeout=3.0):
        current: RecordWriter | None = _state["writer"]
        logger.error("task-run records lost at exit", extra={"pending": current.pending() if current else 0})


atexit.register(_flush_at_exit)
