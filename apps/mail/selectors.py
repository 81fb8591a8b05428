"""Reads of the send records (MongoDB `mail_sends`) for the API and the admin, newest first."""

import re
from collections.abc import Iterator, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from pymongo import DESCENDING

from apps.core.pagination import PageIn, page_of
from apps.mail import documents
from apps.mail.schemas import MailSendFilter

ORDER = [("queued_at", DESCENDING), ("mail_id", DESCENDING)]
FIELDS = (
    "mail_id",
    "to",
    "template",
    "language",
    "subject",
    "status",
    "attempts",
    "error",
    "task_id",
    "queued_at",
    "last_attempt_at",
    "sent_at",
    "resent_from",
    "resent_as",
)


def _matching(pattern: str) -> dict[str, Any]:
    # An operator form, not a regex value: MongoDB-wire servers differ on regex values of indexed fields.
    return {"$regex": pattern, "$options": "i"}


def send_query(filters: MailSendFilter, *, search: str | None = None) -> dict[str, Any]:
    """The raw query of the filters, and of a search for part of a recipient address (any case)."""
    query: dict[str, Any] = {}
    if filters.status is not None:
        query["status"] = filters.status
    conditions = []
    if filters.to:
        conditions.append({"to": _matching(f"^{re.escape(filters.to.strip())}$")})
    if search:
        conditions.append({"to": _matching(re.escape(search))})
    if len(conditions) == 1:
        query.update(conditions[0])
    elif conditions:
        query["$and"] = conditions
    return query


def send_out(document: dict[str, Any]) -> dict[str, Any]:
    row = {name: document.get(name) for name in FIELDS}
    row["to"] = list(row["to"] or [])
    row["attempts"] = int(row["attempts"] or 0)
    return row


def send_page_sync(query: dict[str, Any], *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of records matching a raw query, newest first, and the total."""
    collection = documents.collection()
    total = collection.count_documents(query)
    cursor = collection.find(query, {"_id": 0}).sort(ORDER).skip(offset).limit(limit)
    return [send_out(document) for document in cursor], total


def send_export_sync(
    query: dict[str, Any], *, fields: Sequence[str], limit: int
) -> tuple[int, Iterator[dict[str, Any]]]:
    """The total matching a raw query and a lazy iterator over at most `limit` records (only `fields`)."""
    collection = documents.collection()
    total = collection.count_documents(query)  # here, so an unavailable MongoDB is known before streaming
    cursor = collection.find(query, {"_id": 0, **dict.fromkeys(fields, 1)}).sort(ORDER).limit(limit)
    return total, ({name: _cell(document.get(name)) for name in fields} for document in cursor)


def _cell(value: Any) -> Any:
    return ", ".join(value) if isinstance(value, list) else value


def send_get_sync(mail_id: str) -> dict[str, Any] | None:
    document = documents.collection().find_one({"mail_id": mail_id}, {"_id": 0})
    return send_out(document) if document is not None else None


_send_page = sync_to_async(send_page_sync, thread_sensitive=False)


async def send_list(*, filters: MailSendFilter, page: PageIn) -> dict[str, Any]:
    items, total = await _send_page(send_query(filters), offset=page.offset, limit=page.size)
    return page_of(items, total=total, page=page)
