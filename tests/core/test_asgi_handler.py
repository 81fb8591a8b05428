"""The ASGI handler's own parts (apps/core/asgi.py): a client leaving cancels the view, and only then; URL
resolutions are remembered per resolver and misses are not."""

import asyncio
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, get_resolver

from apps.core.asgi import ASGIHandler, resolve_path

SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/api/v1/health",
    "raw_path": b"/api/v1/health",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"localhost")],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
}


class SlowHandler(ASGIHandler):
    """A view that takes `delay` seconds, recording whether it was cancelled."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = asyncio.Event()
        self.cancelled = False

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        self.started.set()
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        response = HttpResponse(b"done")
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        return response


def client(leave_when: asyncio.Event | None) -> tuple[Any, Any, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        if leave_when is None:
            await asyncio.Event().wait()  # never leaves
        else:
            await leave_when.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    return receive, send, sent


@pytest.mark.django_db
async def test_a_client_that_stays_gets_the_response_and_the_task_is_not_left_cancelled() -> None:
    handler = SlowHandler(delay=0.01)
    receive, send, sent = client(leave_when=None)
    await handler(dict(SCOPE), receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"done"
    assert not handler.cancelled
    await asyncio.sleep(0.01)  # a cancellation left pending on this task would be raised here
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


@pytest.mark.django_db
async def test_a_client_that_leaves_cancels_the_view_and_gets_nothing() -> None:
    handler = SlowHandler(delay=30)
    leave = asyncio.Event()
    receive, send, sent = client(leave_when=leave)
    call = asyncio.create_task(handler(dict(SCOPE), receive, send))
    await handler.started.wait()
    leave.set()
    await asyncio.wait_for(call, timeout=5)  # returns at once, not after the view's 30 s
    assert handler.cancelled
    assert sent == []
    assert not call.cancelled() and call.exception() is None


@pytest.mark.django_db
async def test_a_cancelled_request_still_raises_cancelled() -> None:
    """Cancelling from outside (a server shutting down) is not mistaken for the client leaving."""
    handler = SlowHandler(delay=30)
    receive, send, sent = client(leave_when=None)
    call = asyncio.create_task(handler(dict(SCOPE), receive, send))
    await handler.started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert handler.cancelled and sent == []


def test_resolutions_are_remembered_per_resolver_and_misses_are_not() -> None:
    resolver = get_resolver()
    resolve_path.cache_clear()
    first = resolve_path(resolver, "/api/v1/health")
    assert resolve_path(resolver, "/api/v1/health") is first
    assert first.func is resolver.resolve("/api/v1/health").func
    assert resolve_path.cache_info().hits == 1
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolve_path(resolver, "/api/v1/no-such-route")
    assert resolve_path.cache_info().currsize == 1
    other = get_resolver("config.urls")  # the same patterns through another resolver: its own entries
    if other is not resolver:
        assert resolve_path(other, "/api/v1/health") is not first
