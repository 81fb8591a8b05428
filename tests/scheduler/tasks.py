"""Tasks used by the scheduling tests; the test worker imports this module with `--include`."""

import asyncio
import os
import signal
import threading
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache

from apps.scheduler.base import bound_task, task


@task(name="tests.scheduler.add")
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@task(name="tests.scheduler.fail")
def fail(message: str) -> None:
    """Always raises ValueError(message)."""
    raise ValueError(message)


@task(name="tests.scheduler.loop_identity")
async def loop_identity() -> dict[str, int]:
    """Which process, event loop and thread ran this coroutine."""
    await asyncio.sleep(0.01)
    return {"pid": os.getpid(), "loop": id(asyncio.get_running_loop()), "thread": threading.get_ident()}


@task(name="tests.scheduler.async_fail")
async def async_fail(message: str) -> None:
    await asyncio.sleep(0)
    raise RuntimeError(message)


@bound_task(name="tests.scheduler.flaky", max_retries=3)
def flaky(self: Any, failures: int) -> int:
    """Fails (and retries at once) `failures` times, then answers the attempt number."""
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError(f"attempt {self.request.retries} failed"), countdown=0)
    return int(self.request.retries)


@bound_task(name="tests.scheduler.flaky_async", max_retries=3)
async def flaky_async(self: Any, failures: int) -> dict[str, Any]:
    """Async twin of `flaky`: `self.request` must be this call's request inside the coroutine."""
    await asyncio.sleep(0)
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError(f"attempt {self.request.retries} failed"), countdown=0)
    return {"retries": self.request.retries, "task_id": self.request.id}


@task(name="tests.scheduler.sleep_async", soft_time_limit=1)
async def sleep_async(seconds: float, marker: str) -> str:
    """Sleeps; records in the cache whether it was cancelled (soft time limit) or finished."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        cache.set(marker, "cancelled", 60)
        raise
    cache.set(marker, "finished", 60)
    return "slept"


@task(name="tests.scheduler.die_once")
def die_once(marker: str) -> str:
    """Kills its own pool process the first time (a worker dying mid-task), succeeds when delivered again."""
    if cache.add(marker, os.getpid(), 120):
        os.kill(os.getpid(), signal.SIGKILL)
    return f"survived; first attempt died in pid {cache.get(marker)}"


@task(name="tests.scheduler.overrun", soft_time_limit=0.5, time_limit=1.5)
def overrun(seconds: float) -> str:
    """Ignores its soft time limit and sleeps past the hard one: the pool process is killed."""
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        time.sleep(seconds)
    return "not reached"
