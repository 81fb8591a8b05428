"""Task-run records (MongoDB): one document per task id, updated as the run moves through its states."""

import logging
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from mongoengine import DateTimeField, Document, DynamicField, FloatField, IntField, StringField
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from apps.core import mongo

logger = logging.getLogger("apps.scheduler.documents")


class RunStatus(StrEnum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    RETRY = "RETRY"


class TaskRun(Document):
    task_id = StringField(required=True)
    task = StringField(required=True)
    schedule = IntField(null=True)  # PeriodicTask id when beat (or "run now" of a schedule) sent it
    schedule_name = StringField(null=True)
    status = StringField(required=True, choices=[s.value for s in RunStatus])
    # Attempt the status belongs to (Celery's `retries`): a late update of an older attempt never wins.
    retries = IntField(default=0)
    args = DynamicField(null=True)
    kwargs = DynamicField(null=True)
    result = DynamicField(null=True)
    error = StringField(null=True)
    traceback = StringField(null=True)
    worker = StringField(null=True)
    queued_at = DateTimeField(null=True)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    duration_ms = FloatField(null=True)

    # Indexes are created by ensure_indexes() below: the TTL follows a setting, and MongoEngine's automatic
    # creation would fail every write once that setting changed.
    meta = {"collection": "task_runs", "auto_create_index": False, "strict": False}

    def __str__(self) -> str:
        return f"{self.task}[{self.task_id}] {self.status}"


TTL_INDEX = "queued_at_ttl"


def collection() -> Collection[dict[str, Any]]:
    """The raw collection, looked up per call: fork-safe and never bound to a replaced connection."""
    return mongo.database()[TaskRun._meta["collection"]]


def ensure_indexes() -> None:
    """Create the indexes (idempotent); the TTL index follows TASK_RUN_RETENTION_DAYS."""
    coll = collection()
    coll.create_indexes(
        [
            IndexModel([("task_id", ASCENDING)], unique=True, name="task_id_unique"),
            IndexModel([("task", ASCENDING), ("queued_at", DESCENDING)], name="task_queued"),
            IndexModel([("schedule", ASCENDING), ("queued_at", DESCENDING)], name="schedule_queued"),
            IndexModel([("status", ASCENDING), ("queued_at", DESCENDING)], name="status_queued"),
            # Runs of the users in an operator's data scope (lists and the dashboard).
            IndexModel([("user_id", ASCENDING), ("queued_at", DESCENDING)], name="user_queued"),
        ]
    )
    ttl = int(timedelta(days=settings.TASK_RUN_RETENTION_DAYS).total_seconds())
    current = coll.index_information().get(TTL_INDEX)
    if current is not None and current.get("expireAfterSeconds") == ttl:
        return
    try:
        if current is not None:
            coll.drop_index(TTL_INDEX)
        coll.create_index([("queued_at", DESCENDING)], name=TTL_INDEX, expireAfterSeconds=ttl)
    except OperationFailure:
        logger.warning("could not create the task-run retention index", exc_info=True)
