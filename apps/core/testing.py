"""Routes mounted only when API_TEST_ROUTES is on (the test suite): they prove how failures are answered, and
count the threads the process starts (a request path must start none)."""

import threading
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["testing"], auth=None)

_original_start = threading.Thread.start
_original_submit = ThreadPoolExecutor.submit
_counts: dict[str, Any] = {"starts": 0, "submits": 0, "recent": deque(maxlen=20)}


def count_thread_starts() -> None:
    """Wrap Thread.start (every Python thread goes through it) and ThreadPoolExecutor.submit (every
    sync_to_async and run_in_executor does: a hop to a thread even when none is started) to count calls, and
    keep where the last ones came from."""
    if threading.Thread.start is not _original_start:
        return

    def start(self: threading.Thread) -> None:
        _counts["starts"] += 1
        _counts["recent"].append(f"start {self.name}\n{''.join(traceback.format_stack(limit=25)[:-1])}")
        _original_start(self)

    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        _counts["submits"] += 1
        _counts["recent"].append(f"submit {type(fn).__qualname__}\n{''.join(traceback.format_stack(limit=25)[:-1])}")
        return _original_submit(self, fn, *args, **kwargs)

    threading.Thread.start = start  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]


class EchoIn(Schema):
    name: str
    count: int


class ThreadsOut(Schema):
    started: int
    submitted: int
    alive: int
    recent: list[str]


@router.get("/boom")
async def boom(request: HttpRequest) -> None:
    raise RuntimeError("secret internal detail: postgres://user:pw@db/x")


@router.post("/echo", response=EchoIn)
async def echo(request: HttpRequest, payload: EchoIn) -> EchoIn:
    return payload


@router.get("/threads", response=ThreadsOut)
async def threads(request: HttpRequest) -> dict[str, Any]:
    return {
        "started": _counts["starts"],
        "submitted": _counts["submits"],
        "alive": threading.active_count(),
        "recent": list(_counts["recent"]),
    }
