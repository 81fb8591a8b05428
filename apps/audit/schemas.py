import uuid
from datetime import datetime
from typing import Any

from ninja import Field, Schema

from apps.core.schemas import UtcDatetime

# Bounds on free-text filters, so a huge value is refused (42200) instead of becoming a huge query.
MAX_FILTER_TEXT = 200


class OperationLogFilter(Schema):
    user_id: uuid.UUID | None = Field(None, description="Exact user id")
    username: str | None = Field(
        None, max_length=MAX_FILTER_TEXT, description="Case-insensitive substring of the username"
    )
    method: str | None = Field(None, max_length=16, description="HTTP method, e.g. POST")
    path: str | None = Field(
        None, max_length=MAX_FILTER_TEXT, description="Case-insensitive substring of the request path"
    )
    status: int | None = Field(None, ge=100, le=599, description="Exact HTTP status")
    since: UtcDatetime | None = Field(None, description="created_at >= since (ISO-8601; UTC when no offset)")
    until: UtcDatetime | None = Field(None, description="created_at < until (ISO-8601; UTC when no offset)")


class LoginLogFilter(Schema):
    username: str | None = Field(
        None, max_length=MAX_FILTER_TEXT, description="Case-insensitive substring of the username"
    )
    user_id: uuid.UUID | None = Field(None, description="Exact user id")
    success: bool | None = None
    ip: str | None = Field(None, max_length=64, description="Exact client ip")
    since: UtcDatetime | None = Field(None, description="created_at >= since (ISO-8601; UTC when no offset)")
    until: UtcDatetime | None = Field(None, description="created_at < until (ISO-8601; UTC when no offset)")


class OperationLogOut(Schema):
    id: str
    request_id: str | None
    user_id: str | None
    username: str | None
    method: str
    path: str
    route: str | None
    status: int
    duration_ms: float | None
    ip: str | None
    user_agent: str | None
    browser: str | None
    os: str | None
    device: str | None
    query: dict[str, Any]
    body: Any
    body_size: int | None
    created_at: datetime


class LoginLogOut(Schema):
    id: str
    request_id: str | None
    username: str | None
    user_id: str | None
    success: bool
    reason: str | None
    channel: str = Field("api", description='Where the attempt came in: "api" or "admin" (the admin sign-in)')
    event: str = Field(
        "login",
        description='What happened: "login" (a sign-in attempt) or an account event, e.g. "password_reset_requested"',
    )
    ip: str | None
    user_agent: str | None
    browser: str | None
    os: str | None
    device: str | None
    created_at: datetime
