"""MongoDB documents: operation logs and login logs, with their indexes and the retention TTL index."""

from typing import Any

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    DynamicField,
    FloatField,
    IntField,
    StringField,
)
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import OperationFailure

TTL_INDEX_NAME = "created_at_ttl"
# Codes MongoDB answers when an index of that name exists with other options (here: another TTL).
_INDEX_CONFLICT_CODES = {85, 86}


class OperationLog(Document):
    """One API/admin request worth auditing (non-GET or failed, by default)."""

    # A UUIDv7 string given when the record is created: time-ordered, and the key that makes retries idempotent.
    id = StringField(primary_key=True)
    request_id = StringField()
    user_id = StringField()
    username = StringField()
    method = StringField(required=True)
    path = StringField(required=True)
    route = StringField()
    status = IntField(required=True)
    duration_ms = FloatField()
    ip = StringField()
    user_agent = StringField()
    browser = StringField()
    os = StringField()
    device = StringField()
    query = DictField()
    body = DynamicField()
    body_size = IntField()
    created_at = DateTimeField(required=True)

    meta = {"collection": "operation_logs", "auto_create_index": False, "ordering": ["-created_at", "-id"]}


class LoginLog(Document):
    """One login attempt, successful or not, with the reason."""

    id = StringField(primary_key=True)
    request_id = StringField()
    username = StringField()
    user_id = StringField()
    success = BooleanField(required=True)
    reason = StringField()
    ip = StringField()
    user_agent = StringField()
    browser = StringField()
    os = StringField()
    device = StringField()
    # Where the attempt came in: "api" (the API's login) or "admin" (the admin's sign-in page). Records written
    # before the field existed have none and read as "api", the only sign-in they could come from.
    channel = StringField(default="api")
    # What happened: "login" (a sign-in attempt) or an account event such as "password_reset_requested",
    # "invitation_accepted", "2fa_enrolled", "2fa_used", "2fa_failed", "captcha_failed". Records written before
    # the field existed read as "login", the only event they could record.
    event = StringField(default="login")
    created_at = DateTimeField(required=True)

    meta = {"collection": "login_logs", "auto_create_index": False, "ordering": ["-created_at", "-id"]}


def _by(*fields: str) -> list[tuple[str, int]]:
    # Every filter is combined with the newest-first listing order, so each index ends with created_at desc.
    return [*((f, ASCENDING) for f in fields), ("created_at", DESCENDING), ("_id", DESCENDING)]


# One index per filter of the API (and the listing order itself); the TTL index is managed separately.
INDEXES: dict[str, list[IndexModel]] = {
    "operation_logs": [
        IndexModel(_by(), name="created_at_id"),
        IndexModel(_by("user_id"), name="user_id_created_at"),
        IndexModel(_by("method"), name="method_created_at"),
        IndexModel(_by("status"), name="status_created_at"),
        IndexModel(_by("path"), name="path_created_at"),
        IndexModel(_by("username"), name="username_created_at"),
    ],
    "login_logs": [
        IndexModel(_by(), name="created_at_id"),
        IndexModel(_by("username"), name="username_created_at"),
        IndexModel(_by("user_id"), name="user_id_created_at"),
        IndexModel(_by("success"), name="success_created_at"),
        IndexModel(_by("ip"), name="ip_created_at"),
    ],
}

COLLECTIONS: dict[str, str] = {
    "operation": OperationLog._meta["collection"],
    "login": LoginLog._meta["collection"],
}


def ensure_indexes(db: Database[Any], *, retention_days: int) -> None:
    """Create the filter indexes and the TTL index; a changed retention updates the TTL in place."""
    ttl_seconds = max(1, int(retention_days * 86400))
    for collection_name, indexes in INDEXES.items():
        collection = db[collection_name]
        collection.create_indexes(indexes)
        try:
            collection.create_index([("created_at", ASCENDING)], name=TTL_INDEX_NAME, expireAfterSeconds=ttl_seconds)
        except OperationFailure as exc:
            if exc.code not in _INDEX_CONFLICT_CODES:
                raise
            db.command("collMod", collection_name, index={"name": TTL_INDEX_NAME, "expireAfterSeconds": ttl_seconds})
