"""Django's ASGI handler without the OS threads it starts for every request.

Django runs each request in a ThreadSensitiveContext of its own, so the request's first thread-sensitive
sync_to_async (the sync receivers of request_started, response.close(), any async ORM call) starts a new
thread, and leaving the context starts another one to join it: two thread starts and two hops per request,
even for a route that never leaves the event loop. This handler differs in three ways:

- each request borrows a single-thread executor from a pool, so the sync work of one request still runs on
  one thread of its own (what thread-sensitive code needs), but on a thread an earlier request started;
  a request that runs no sync code never wakes one;
- request_started and request_finished reach their receivers on the event loop. Django's own receivers reset
  per-thread database state and caches; on the loop's thread no database connection can be open;
- the URL resolution of a path is remembered (a bounded LRU per URL resolver): resolving walks the patterns of
  every route before the one that matches, a tenth of a small API call;
- the view runs in the request's own task, with one task listening for the client leaving (Django runs two
  tasks and waits on both);
- when a request did run sync code, its thread's database state is cleaned on that thread afterwards, as
  Django's request_finished would: the queries log is cleared and close_old_connections returns a pooled
  connection (CONN_MAX_AGE=0) or drops an unusable or obsolete one, and after a database error the pool's idle
  connections are tested at once. The executor goes back to the pool only
  after that clean-up, so a connection is never carried into another request's thread unchecked.
"""

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.core.handlers.asgi import get_script_prefix
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, URLResolver, get_resolver, set_script_prefix

# Executors kept idle beyond this are shut down: a burst of concurrent sync work does not leave its threads.
IDLE_EXECUTORS = 32
RESOLVED_PATHS = 2048  # paths whose resolution is remembered; a path with an id in it is one entry per id


@functools.lru_cache(maxsize=RESOLVED_PATHS)
def resolve_path(resolver: URLResolver, path: str) -> ResolverMatch:
    """resolver.resolve(path), remembered: the URL patterns do not change while the process runs (a new
    ROOT_URLCONF or clear_url_caches() gives a new resolver, hence new entries). A Resolver404 is not kept."""
    return resolver.resolve(path)


class RequestExecutor(ThreadPoolExecutor):
    """A one-thread executor that remembers whether the request holding it submitted anything."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self.used = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.used = True
        return super().submit(fn, *args, **kwargs)


def _clean_thread_state() -> None:
    reset_queries()
    for wrapper in connections.all(initialized_only=True):
        pool = getattr(wrapper, "pool", None)
        if wrapper.errors_occurred and pool is not None:
            # A dead pooled connection is rarely alone (a restart or pg_terminate_backend ends them all); the
            # pool would find the others one checkout at a time, backing off a second more for each. Test the
            # idle ones now, so the requests after this one get live connections.
            pool.check()
    close_old_connections()


class ExecutorPool:
    """Idle executors, newest first (its thread is the most likely to be warm)."""

    def __init__(self, idle_limit: int = IDLE_EXECUTORS) -> None:
        self.idle_limit = idle_limit
        self._idle: list[RequestExecutor] = []
        self._lock = threading.Lock()  # released from an executor's thread after its clean-up

    def acquire(self) -> RequestExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return RequestExecutor()

    def release(self, executor: RequestExecutor) -> None:
        if not executor.used:
            self._put(executor)
            return
        # Queued behind whatever the request left running (a cancelled await does not stop its thread), so the
        # clean-up sees the thread's final state.
        executor.used = False
        ThreadPoolExecutor.submit(executor, _clean_thread_state).add_done_callback(lambda _: self._put(executor))

    def _put(self, executor: RequestExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.idle_limit:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)


# Django's per-thread database clean-ups. Django refuses to open a connection on the event loop's thread, so on
# the loop they have nothing to do (yet each looks every alias up in its context-local storage, which costs a
# tenth of /health); the executor thread a request used gets both in _clean_thread_state.
LOOP_NO_OPS = frozenset({reset_queries, close_old_connections})


async def send_on_loop(signal: Signal, sender: Any, **named: Any) -> None:
    """Signal.asend without its sync_to_async: sync receivers run on the loop, so they must not block."""
    sync_receivers, async_receivers = signal._live_receivers(sender)
    for receiver in sync_receivers:
        if receiver in LOOP_NO_OPS:
            continue
        receiver(signal=signal, sender=sender, **named)
    if async_receivers:
        await asyncio.gather(*(receiver(signal=signal, sender=sender, **named) for receiver in async_receivers))


def _closes_only_the_request(response: HttpResponseBase) -> bool:
    # Django registers request.close (its body buffer, uploaded files) on every response; closing those does
    # not wait on anything. A file or stream of the response's own is closed Django's way, on a thread.
    closers = getattr(response, "_resource_closers", ())
    return all(isinstance(getattr(closer, "__self__", None), HttpRequest) for closer in closers)


async def close_response(response: HttpResponseBase) -> None:
    """response.close() (its resources, then request_finished) on the loop when nothing in it may block."""
    _sync, async_receivers = signals.request_finished._live_receivers(getattr(response, "_handler_class", None))
    if async_receivers or not _closes_only_the_request(response):
        await sync_to_async(response.close)()
        return
    # HttpResponseBase.close(), with request_finished sent through send_on_loop.
    for closer in response._resource_closers:  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            closer()
    response._resource_closers.clear()  # type: ignore[attr-defined]
    response.closed = True
    await send_on_loop(signals.request_finished, getattr(response, "_handler_class", None))


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.executors = ExecutorPool()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.executors.acquire()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.executors.release(executor)

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a per-request URLconf: Django's own way
            return super().resolve_request(request)
        match = resolve_path(get_resolver(), request.path_info)
        request.resolver_match = match
        return match

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            await send_on_loop(signals.request_started, self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            if error_response is not None:
                await self.send_response(error_response, send)
                await close_response(error_response)
                return
            response = await self._respond_or_abort(request, receive, send)
            if response is None:
                await send_on_loop(signals.request_finished, self.__class__)
            else:
                await close_response(response)
        finally:
            body_file.close()

    async def _respond_or_abort(self, request: Any, receive: Any, send: Any) -> HttpResponseBase | None:
        """The response once sent, or None when the client went away first (the view is then cancelled)."""
        this_task = asyncio.current_task()
        assert this_task is not None
        aborted = False

        def on_listener_done(listener: asyncio.Task[None]) -> None:
            nonlocal aborted
            if listener.cancelled():
                return
            if isinstance(listener.exception(), RequestAborted):  # retrieving it also keeps asyncio quiet
                aborted = True
                this_task.cancel()

        # The callback can only run while this task waits at one of the awaits below, so the cancellation it
        # requests always lands in one of them, never after the response is through.
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        listener.add_done_callback(on_listener_done)
        response = None
        try:
            response = await self.run_get_response(request)
            await self.send_response(response, send)
        except asyncio.CancelledError:
            if not aborted:
                raise
            this_task.uncancel()  # the client left: before the response (None), or while it was being sent
        finally:
            listener.remove_done_callback(on_listener_done)
            listener.cancel()
        return response
