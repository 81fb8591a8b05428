"""Audit records: captured cheaply on the request path (raw), completed off it (prepared) before storage.

A raw record holds only what must be taken from the request while it exists (bytes, strings, numbers).
`prepare()` does the slower work in the writer's thread: route template, JSON parsing, redaction, user-agent
parsing. Anything leaving memory (MongoDB or the spool) is prepared, so secrets never reach the spool.
"""

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest

from apps.audit.redaction import redact, redact_query, scrub
from apps.audit.request_info import MAX_USER_AGENT_LENGTH, parse_user_agent, route_template
from apps.core.client_ip import client_ip
from apps.core.ids import new_uuid7

Kind = Literal["operation", "login"]
MAX_STRING = 2048
MAX_QUERY_STRING = 8192


@dataclass(frozen=True, slots=True)
class PrepareOptions:
    secret_words: tuple[str, ...]
    body_max_bytes: int

    @classmethod
    def from_settings(cls) -> "PrepareOptions":
        return cls(secret_words=tuple(settings.AUDIT_REDACT_KEYS), body_max_bytes=settings.AUDIT_BODY_MAX_BYTES)


def new_record_id() -> str:
    return str(new_uuid7())


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def captured_body(request: HttpRequest, max_bytes: int) -> tuple[bytes | None, int | None]:
    """The request body if it is small JSON, and its size; called after the view has run.

    The view (Ninja) has usually read the body already and Django keeps it in `request._body`. Otherwise the
    body is read here only when it is JSON, its declared length is within the cap and nobody consumed the
    stream: it is then already in memory (ASGI buffers small bodies before the view), and reading after the
    view can never change what the view saw. Streams, multipart uploads and chunked bodies are left alone.
    """
    length = _declared_length(request)
    content_type = request.META.get("CONTENT_TYPE", "")
    body: bytes | None = request.__dict__.get("_body")
    if body is None:
        if (
            not _is_json(content_type)
            or length is None
            or length <= 0
            or length > max_bytes
            or getattr(request, "_read_started", False)
        ):
            return None, length
        try:
            body = request.body
        except Exception:  # the client went away or sent less than declared: nothing to store
            return None, length
    if len(body) > max_bytes or not _is_json(content_type):
        return None, len(body)
    return body, len(body)


def acting_user(request: HttpRequest) -> tuple[str | None, str | None]:
    """(user id, username) of the API token's user, or of the admin session when Django already loaded it."""
    user = getattr(request, "auth", None)
    if getattr(user, "pk", None) is None:
        # A token that authenticated but lacked the permission (403) still names its user.
        user = getattr(getattr(request, "auth_context", None), "user", None)
    if getattr(user, "pk", None) is None:
        user = request.__dict__.get("_cached_user") or request.__dict__.get("_acached_user")
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return None, None
    get_username = getattr(user, "get_username", None)
    return str(user_id), (get_username() if callable(get_username) else None)


def operation_record(
    request: HttpRequest, *, status: int, started_at: float, started_perf: float, body_max_bytes: int
) -> dict[str, Any]:
    """The raw operation record of a finished request (cheap: no parsing, no redaction)."""
    duration_ms = round((time.perf_counter() - started_perf) * 1000, 3)
    match = getattr(request, "resolver_match", None)
    user_id, username = acting_user(request)
    body, body_size = captured_body(request, body_max_bytes)
    return {
        "id": new_record_id(),
        "created_at": started_at,
        "request_id": getattr(request, "request_id", None),
        "user_id": user_id,
        "username": username,
        "method": request.method,
        "path": request.path,
        "route": match.route if match is not None else None,
        "status": status,
        "duration_ms": duration_ms,
        "ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
        "query": request.META.get("QUERY_STRING", ""),
        "body": body,
        "body_size": body_size,
        "content_type": request.META.get("CONTENT_TYPE", ""),
    }


def login_record(
    *,
    username: str,
    user_id: str | None,
    success: bool,
    reason: str,
    ip: str | None,
    user_agent: str,
    request_id: str | None,
    channel: str = "api",
    event: str = "login",
) -> dict[str, Any]:
    return {
        "id": new_record_id(),
        "created_at": time.time(),
        "request_id": request_id,
        "username": username,
        "user_id": str(user_id) if user_id is not None else None,
        "success": bool(success),
        "reason": reason,
        "ip": ip,
        "user_agent": user_agent or "",
        "channel": channel,
        "event": event,
    }


def _clip(value: Any, limit: int = MAX_STRING) -> str | None:
    """A stored string: cut to `limit`, lone surrogates replaced (BSON cannot encode them)."""
    if value is None:
        return None
    text = str(value)
    return scrub(text if len(text) <= limit else text[:limit])


def _parse_body(body: bytes | None, options: PrepareOptions) -> Any:
    if not body:
        return None
    try:
        return redact(json.loads(body), options.secret_words)
    except (ValueError, RecursionError):  # not valid JSON after all (or absurdly nested): keep only the size
        return None


def _query_pairs(query_string: str | None) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl((query_string or "")[:MAX_QUERY_STRING], keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return list(grouped.items())


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), tz=UTC)


def prepare(kind: Kind, raw: dict[str, Any], options: PrepareOptions) -> dict[str, Any]:
    """The document to store (field names of apps.audit.documents), secrets redacted.

    Every string goes through `_clip` or `redact`/`redact_query`, which replace lone surrogates, so the
    document can always be encoded as BSON and as the spool's UTF-8 JSON.
    """
    agent = _clip(raw.get("user_agent") or "", MAX_USER_AGENT_LENGTH) or ""
    info = parse_user_agent(agent)
    common = {
        "_id": raw["id"],
        "request_id": _clip(raw.get("request_id"), 128),
        "user_id": _clip(raw.get("user_id"), 64),
        "ip": _clip(raw.get("ip"), 64),
        "user_agent": agent,
        "browser": info.browser,
        "os": info.os,
        "device": info.device,
        "created_at": _timestamp(raw["created_at"]),
    }
    if kind == "login":
        return {
            **common,
            "username": _clip(raw.get("username"), 150),
            "success": bool(raw.get("success")),
            "reason": _clip(raw.get("reason"), 64),
            "channel": _clip(raw.get("channel"), 16) or "api",
            "event": _clip(raw.get("event"), 32) or "login",
        }
    return {
        **common,
        "username": _clip(raw.get("username"), 150),
        "method": _clip(raw.get("method"), 16) or "",
        "path": _clip(raw.get("path")) or "",
        "route": _clip(route_template(raw.get("route"))),
        "status": int(raw["status"]),
        "duration_ms": float(raw.get("duration_ms") or 0.0),
        "query": redact_query(_query_pairs(raw.get("query")), options.secret_words),
        "body": _parse_body(raw.get("body"), options),
        "body_size": raw.get("body_size"),
    }
