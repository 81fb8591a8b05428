"""The request being served, so selectors find the caller's data scope without every caller passing it.

Set by RequestScopeMiddleware for every HTTP request (the API's auth class and the admin's session both run
inside it). sync_to_async copies context variables into the worker thread, so sync selectors see it too.
Outside a request (Celery tasks, management commands) there is no caller and nothing is filtered.
"""

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("org_request", default=None)


def current_caller() -> Any:
    """The signed-in user of the current request (API token or admin session), or None."""
    request = _request.get()
    if request is None:
        return None
    context = getattr(request, "auth_context", None)
    if context is not None:
        return context.user
    user = getattr(request, "_cached_user", None) or getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


class RequestScopeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            response: Awaitable[HttpResponse] = self.get_response(request)
            return await response
        finally:
            _request.reset(token)
