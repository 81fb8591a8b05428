"""Writes of send records. Each update commutes with the others, like the task-run records': the publisher
only fills what is missing, and an attempt's outcome applies only over older attempts, so a late "queued" write
or a redelivered attempt never overwrites a newer state. A record that cannot be written is logged, never a
reason to fail (or repeat) a send.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from apps.mail import documents
from apps.mail.documents import SendStatus

logger = logging.getLogger("apps.mail")

_indexed: dict[str, bool] = {"done": False}
_lock = threading.Lock()
# Publishers hand "queued" writes to one background thread: a request never waits for MongoDB.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-records")


def _now() -> datetime:
    return datetime.now(UTC)


def _ensure_indexes() -> None:
    if _indexed["done"]:
        return
    with _lock:
        if not _indexed["done"]:
            documents.ensure_indexes()
            _indexed["done"] = True


def identity(*, mail_id: str, to: list[str], template: str, language: str, subject: str) -> dict[str, Any]:
    return {"mail_id": mail_id, "to": to, "template": template, "language": language, "subject": subject}


def write_queued(fields: dict[str, Any], *, at: datetime | None = None) -> None:
    try:
        _ensure_indexes()
        documents.collection().update_one(
            {"mail_id": fields["mail_id"]},
            {
                "$setOnInsert": {**fields, "status": SendStatus.QUEUED.value, "attempts": 0, "error": None},
                "$min": {"queued_at": at or _now()},
            },
            upsert=True,
        )
    except PyMongoError:
        logger.warning("mail record (queued) not written", exc_info=True, extra={"mail_id": fields["mail_id"]})


def submit_queued(fields: dict[str, Any]) -> None:
    """Record a queued mail in the background (the caller does not wait)."""
    at = _now()
    try:
        _executor.submit(write_queued, fields, at=at)
    except RuntimeError:  # the interpreter is shutting down
        write_queued(fields, at=at)


def write_attempt(
    fields: dict[str, Any], *, attempt: int, status: SendStatus, error: str | None, task_id: str | None
) -> None:
    """The outcome of attempt number `attempt` (1-based)."""
    now = _now()
    values: dict[str, Any] = {
        "status": status.value,
        "attempts": attempt,
        "error": error,
        "task_id": task_id,
        "last_attempt_at": now,
    }
    if status is SendStatus.SENT:
        values["sent_at"] = now
    try:
        _ensure_indexes()
        documents.collection().update_one(
            {"mail_id": fields["mail_id"], "attempts": {"$lt": attempt}},
            {
                "$set": values,
                "$setOnInsert": {k: v for k, v in fields.items() if k != "mail_id"},
                "$min": {"queued_at": now},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # a newer attempt is recorded already (a redelivered message)
    except PyMongoError:
        logger.warning("mail record (attempt) not written", exc_info=True, extra={"mail_id": fields["mail_id"]})


def record_get(mail_id: str) -> dict[str, Any] | None:
    document = documents.collection().find_one({"mail_id": mail_id}, {"_id": 0})
    return document


def write_resent(mail_id: str, *, resent_as: str) -> None:
    """Mark a failed mail's record as resent (by the mail `resent_as`)."""
    try:
        documents.collection().update_one({"mail_id": mail_id}, {"$set": {"resent_as": resent_as, "resent_at": _now()}})
    except PyMongoError:
        logger.warning("mail record (resent) not written", exc_info=True, extra={"mail_id": mail_id})
