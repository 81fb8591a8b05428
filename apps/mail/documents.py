"""Send records (MongoDB `mail_sends`): one document per mail, updated after every attempt."""

import logging
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from apps.core import mongo

logger = logging.getLogger("apps.mail")

COLLECTION = "mail_sends"
TTL_INDEX = "queued_at_ttl"


class SendStatus(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"  # an attempt failed; another one is scheduled
    SENT = "sent"
    FAILED = "failed"  # retries used up, or the server refused the mail for good


def collection() -> Collection[dict[str, Any]]:
    """Looked up per call: fork-safe (worker processes) and never bound to a replaced connection."""
    return mongo.database()[COLLECTION]


def ensure_indexes() -> None:
    """Create the indexes (idempotent); the TTL index follows MAIL_RECORD_RETENTION_DAYS."""
    coll = collection()
    coll.create_indexes(
        [
            IndexModel([("mail_id", ASCENDING)], unique=True, name="mail_id_unique"),
            IndexModel([("to", ASCENDING), ("queued_at", DESCENDING)], name="to_queued"),
            IndexModel([("status", ASCENDING), ("queued_at", DESCENDING)], name="status_queued"),
            IndexModel([("template", ASCENDING), ("queued_at", DESCENDING)], name="template_queued"),
        ]
    )
    ttl = int(timedelta(days=settings.MAIL_RECORD_RETENTION_DAYS).total_seconds())
    current = coll.index_information().get(TTL_INDEX)
    if current is not None and current.get("expireAfterSeconds") == ttl:
        return
    try:
        if current is not None:
            coll.drop_index(TTL_INDEX)
        coll.create_index([("queued_at", DESCENDING)], name=TTL_INDEX, expireAfterSeconds=ttl)
    except OperationFailure:
        logger.warning("mail_sends: could not create the TTL index", exc_info=True)
