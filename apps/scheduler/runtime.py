"""One asyncio event loop per process, on its own thread, that runs the coroutines of `async def` tasks.

A dedicated thread (rather than `run_until_complete` in the caller) works the same from every pool (prefork,
solo, threads) and from callers that already run a loop (eager tasks called from async views and tests).
Connections that async code opens (channel layers, HTTP clients) stay bound to this one loop for the life of
the process instead of one throw-away loop per call.
"""

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

logger = logging.getLogger("apps.scheduler.runtime")

T = TypeVar("T")

_state: dict[str, Any] = {"lock": threading.Lock(), "loop": None, "thread": None, "pid": None}


def _reset_after_fork() -> None:
    # The loop thread does not exist in a forked child: start afresh there on first use.
    _state.update(lock=threading.Lock(), loop=None, thread=None, pid=None)


os.register_at_fork(after_in_child=_reset_after_fork)


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


def process_loop() -> asyncio.AbstractEventLoop:
    """The event loop of this process, started on first use."""
    loop: asyncio.AbstractEventLoop | None = _state["loop"]
    thread: threading.Thread | None = _state["thread"]
    if loop is not None and thread is not None and thread.is_alive() and _state["pid"] == os.getpid():
        return loop
    with _state["lock"]:
        loop, thread = _state["loop"], _state["thread"]
        if loop is None or thread is None or not thread.is_alive() or _state["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(target=_serve, args=(loop, ready), name="task-event-loop", daemon=True)
            thread.start()
            ready.wait()
            _state.update(loop=loop, thread=thread, pid=os.getpid())
            logger.debug("task event loop started", extra={"pid": os.getpid()})
        return loop


def in_loop_thread() -> bool:
    thread: threading.Thread | None = _state["thread"]
    return thread is not None and thread is threading.current_thread()


def _run_on_helper_thread(coro: Coroutine[Any, Any, T]) -> T:
    # A task called synchronously from inside a running task coroutine (an eager retry, a direct call):
    # blocking the loop thread on its own loop would deadlock, so this one call gets a short-lived loop.
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:
            outcome["error"] = exc

    helper = threading.Thread(target=target, name="task-nested-call", daemon=True)
    helper.start()
    helper.join()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the process loop and wait for its result; an interruption (soft time limit) cancels it."""
    if in_loop_thread():
        return _run_on_helper_thread(coro)
    future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, process_loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
