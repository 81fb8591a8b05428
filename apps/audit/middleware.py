"""Operation-log middleware: decides after the response whether the request is audited, and hands a raw record
to the writer's buffer (no MongoDB call, no parsing on the request path; sync and async, no thread hops)."""

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from apps.audit import writer
from apps.audit.records import operation_record
from apps.core.middleware import _HookMiddleware

logger = logging.getLogger("apps.audit")


def should_log(method: str, status: int, path: str) -> bool:
    if any(path.startswith(prefix) for prefix in settings.AUDIT_EXCLUDE_PATHS):
        return False
    if method in settings.AUDIT_LOG_METHODS:
        return True
    return status >= 400 and settings.AUDIT_LOG_FAILURES


class OperationLogMiddleware(_HookMiddleware):
    def before(self, request: HttpRequest) -> Any:
        return time.time(), time.perf_counter()

    def after(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        status = response.status_code
        if not should_log(request.method or "", status, request.path):
            return response
        started_at, started_perf = state
        try:
            record = operation_record(
                request,
                status=status,
                started_at=started_at,
                started_perf=started_perf,
                body_max_bytes=settings.AUDIT_BODY_MAX_BYTES,
            )
            writer.submit("operation", record)
        except Exception:  # auditing must never turn an answered request into an error
            logger.exception("audit: operation record not captured", extra={"path": request.path})
        return response
