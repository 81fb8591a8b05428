"""Reads of operation and login logs: filters as raw MongoDB queries, newest first, explicit skip/limit.

Substring filters use {"$regex": ..., "$options": "i"} on purpose (with the user's text escaped): some
MongoDB-wire servers match nothing for regex *values* on indexed fields, which is what MongoEngine's
`__icontains` sends.
"""

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from mongoengine import Document

from apps.audit.documents import LoginLog, OperationLog
from apps.audit.schemas import LoginLogFilter, OperationLogFilter
from apps.core.pagination import PageIn, page_of
from apps.org.selectors import mongo_user_filter

ORDER = ("-created_at", "-id")


def _contains(text: str) -> dict[str, str]:
    return {"$regex": re.escape(text), "$options": "i"}


def _time_range(query: dict[str, Any], since: datetime | None, until: datetime | None) -> None:
    # The filter schemas already made both aware UTC (apps.core.schemas.UtcDatetime).
    created: dict[str, datetime] = {}
    if since is not None:
        created["$gte"] = since
    if until is not None:
        created["$lt"] = until
    if created:
        query["created_at"] = created


def operation_log_query(
    filters: OperationLogFilter, *, search: str | None = None, status_class: int | None = None
) -> dict[str, Any]:
    """`status_class` (1-5) matches a whole class of statuses, e.g. 5 for every 5xx (the admin's `status=5xx`)."""
    query: dict[str, Any] = {}
    if filters.user_id is not None:
        query["user_id"] = str(filters.user_id)
    if filters.username:
        query["username"] = _contains(filters.username)
    if filters.method:
        query["method"] = filters.method.strip().upper()
    if filters.path:
        query["path"] = _contains(filters.path)
    if filters.status is not None:
        query["status"] = filters.status
    elif status_class is not None:
        query["status"] = {"$gte": status_class * 100, "$lt": status_class * 100 + 100}
    _time_range(query, filters.since, filters.until)
    if search:
        query["$or"] = [{field: _contains(search)} for field in ("path", "username", "request_id", "ip")]
    return mongo_user_filter(query)  # the caller's data scope (apps/org): records of users they may see


def login_log_query(filters: LoginLogFilter, *, search: str | None = None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if filters.username:
        query["username"] = _contains(filters.username)
    if filters.user_id is not None:
        query["user_id"] = str(filters.user_id)
    if filters.success is not None:
        query["success"] = filters.success
    if filters.ip:
        query["ip"] = filters.ip.strip()
    _time_range(query, filters.since, filters.until)
    if search:
        query["$or"] = [{field: _contains(search)} for field in ("username", "ip", "reason")]
    return mongo_user_filter(query)


def _as_item(raw: dict[str, Any]) -> dict[str, Any]:
    item = dict(raw)
    item["id"] = item.pop("_id")
    return item


def _page(
    document: type[Document], query: dict[str, Any], *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    queryset = document.objects(__raw__=query)
    total = queryset.count()
    rows = queryset.order_by(*ORDER).skip(offset).limit(limit).as_pymongo()
    return [_as_item(row) for row in rows], total


def _export(
    document: type[Document], query: dict[str, Any], *, fields: Sequence[str], limit: int
) -> tuple[int, Iterator[dict[str, Any]]]:
    """The total and a lazy iterator over at most `limit` rows (only `fields`), newest first."""
    queryset = document.objects(__raw__=query)
    total = queryset.count()  # here, so an unavailable MongoDB is known before anything is streamed
    rows = queryset.order_by(*ORDER).only(*fields).limit(limit).as_pymongo()
    return total, (_as_item(row) for row in rows)


def operation_log_page(
    *,
    filters: OperationLogFilter,
    offset: int,
    limit: int,
    search: str | None = None,
    status_class: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    query = operation_log_query(filters, search=search, status_class=status_class)
    return _page(OperationLog, query, offset=offset, limit=limit)


def operation_log_export(
    *,
    filters: OperationLogFilter,
    fields: Sequence[str],
    limit: int,
    search: str | None = None,
    status_class: int | None = None,
) -> tuple[int, Iterator[dict[str, Any]]]:
    query = operation_log_query(filters, search=search, status_class=status_class)
    return _export(OperationLog, query, fields=fields, limit=limit)


def login_log_export(
    *, filters: LoginLogFilter, fields: Sequence[str], limit: int, search: str | None = None
) -> tuple[int, Iterator[dict[str, Any]]]:
    return _export(LoginLog, login_log_query(filters, search=search), fields=fields, limit=limit)


def login_log_page(
    *, filters: LoginLogFilter, offset: int, limit: int, search: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    return _page(LoginLog, login_log_query(filters, search=search), offset=offset, limit=limit)


def operation_log_get(*, log_id: str) -> dict[str, Any] | None:
    row = OperationLog.objects(__raw__=mongo_user_filter({"_id": log_id})).as_pymongo().first()
    return _as_item(row) if row else None


def login_log_get(*, log_id: str) -> dict[str, Any] | None:
    row = LoginLog.objects(__raw__=mongo_user_filter({"_id": log_id})).as_pymongo().first()
    return _as_item(row) if row else None


@sync_to_async(thread_sensitive=False)
def _operation_log_list(filters: OperationLogFilter, page: PageIn) -> dict[str, Any]:
    items, total = operation_log_page(filters=filters, offset=page.offset, limit=page.size)
    return page_of(items, total=total, page=page)


@sync_to_async(thread_sensitive=False)
def _login_log_list(filters: LoginLogFilter, page: PageIn) -> dict[str, Any]:
    items, total = login_log_page(filters=filters, offset=page.offset, limit=page.size)
    return page_of(items, total=total, page=page)


async def operation_log_list(*, filters: OperationLogFilter, page: PageIn) -> dict[str, Any]:
    return await _operation_log_list(filters, page)


async def login_log_list(*, filters: LoginLogFilter, page: PageIn) -> dict[str, Any]:
    return await _login_log_list(filters, page)
