"""Request id, access log and API error envelope middleware (sync and async capable, no thread hops), and
adapters of Django's own middleware that spare API calls the thread hops Django pays for each hook."""

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

from apps.core.context import request_id_var
from apps.core.envelope import json_error_response
from apps.core.paths import API_PREFIX, API_SESSION_PAGES

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
access_logger = logging.getLogger("apps.access")


class _HookMiddleware:
    """Runs cheap synchronous before/after hooks around either a sync or an async handler chain."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        state = self.before(request)
        return self.after(request, self.get_response(request), state)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        state = self.before(request)
        response = await self.get_response(request)
        return self.after(request, response, state)

    def before(self, request: HttpRequest) -> Any:
        return None

    def after(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        return response


def sane_request_id(value: str | None) -> str:
    """Echo a client's request id only when it is short and plain; otherwise generate one."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    # An id, not a secret: 128 random bits from the process's generator, a tenth of uuid4()'s cost (a syscall).
    return f"{random.getrandbits(128):032x}"


class RequestIdMiddleware(_HookMiddleware):
    def before(self, request: HttpRequest) -> Any:
        # META, not request.headers: building that mapping costs more than the rest of this hook.
        request_id = sane_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id_var.set(request_id)

    def after(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        request_id_var.reset(state)
        return response


def acting_user_id(request: HttpRequest) -> str | None:
    """The user behind a request without triggering a (sync) session lookup."""
    user = getattr(request, "auth", None) or request.__dict__.get("_cached_user")
    user_id = getattr(user, "pk", None)
    return str(user_id) if user_id is not None else None


class AccessLogMiddleware(_HookMiddleware):
    """One structured line per request; the path is logged without its query string (it may hold tokens)."""

    def before(self, request: HttpRequest) -> Any:
        return time.perf_counter()

    def after(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        duration_ms = round((time.perf_counter() - state) * 1000, 2)
        match = getattr(request, "resolver_match", None)
        route = getattr(request, "route_template", None) or (match.route if match else None)
        access_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "event": "access",
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": acting_user_id(request),
                "request_id": getattr(request, "request_id", None),
            },
        )
        return response


class ApiErrorEnvelopeMiddleware(_HookMiddleware):
    """Turns Django's own non-JSON error pages under /api/ (404, 405, 413, 500 ...) into envelopes."""

    def after(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        if response.status_code < 400 or not request.path.startswith(API_PREFIX):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = json_error_response(response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


def is_api_call(request: HttpRequest) -> bool:
    """A bearer-token API call: under /api/ but not the docs pages, which staff reach with their admin session."""
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(API_SESSION_PAGES)


class InlineHooksMixin:
    """For Django middleware whose hooks do no I/O (headers, redirects): on the async path they run on the event
    loop instead of through sync_to_async. Django pays a thread hop for each hook of each MiddlewareMixin
    middleware, about a dozen per request for the default stack: most of what a small API call costs.
    """

    get_response: Callable[[HttpRequest], Any]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class PagesOnlyMixin:
    """For Django middleware only pages use (sessions, CSRF, auth, messages): skipped for API calls, which
    authenticate with bearer tokens and never read a session, a cookie or a message."""

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if is_api_call(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(PagesOnlyMixin, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(PagesOnlyMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(PagesOnlyMixin, messages.MessageMiddleware):
    pass


class CsrfViewMiddleware(PagesOnlyMixin, csrf.CsrfViewMiddleware):
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        # Django collects process_view from the instance and wraps a sync one in sync_to_async on the async
        # path: an async one lets API calls pass without that hop.
        if iscoroutinefunction(get_response):
            self.process_view = self._aprocess_view  # type: ignore[method-assign]

    def process_view(self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any) -> Any:
        if is_api_call(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)

    async def _aprocess_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> Any:
        if is_api_call(request):
            return None
        return await sync_to_async(super().process_view)(request, callback, callback_args, callback_kwargs)
