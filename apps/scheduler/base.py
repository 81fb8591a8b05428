"""The task base class of the project and typed task decorators.

`PlatformTask` (the Celery app's default task class) leaves sync tasks untouched. When a task's `run` is an
`async def`, it is replaced by a sync wrapper that runs the coroutine on the process's event loop
(apps.scheduler.runtime) and returns its result, so retries, time limits, results and signals behave exactly as
for sync tasks. Inside the coroutine `self.request` is the request of the call it belongs to (Celery keeps
requests per thread, and the coroutine runs on the loop's thread).

`task(...)` / `bound_task(...)` wrap `celery.shared_task` with signatures an IDE and mypy understand:
`ping.delay()` is checked against `def ping() -> str`, and an `async def` task is a `PlatformTask[P, R]` whose
result is the awaited value, not a coroutine.
"""

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeVar, cast, overload

from asgiref.sync import sync_to_async
from celery import Task, shared_task
from celery.app.task import Context
from django.db import close_old_connections

from apps.scheduler.runtime import run_coroutine

logger = logging.getLogger("apps.scheduler.base")

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# (task, request) of the coroutine running in the current asyncio task.
_coroutine_request: ContextVar[tuple[Task[Any, Any], Context] | None] = ContextVar(
    "coroutine_task_request", default=None
)


# (task id, exception) while `retry()` publishes the next attempt, so the RETRY record can say why.
_retry_cause: ContextVar[tuple[str, BaseException] | None] = ContextVar("task_retry_cause", default=None)


def retry_cause(task_id: str) -> BaseException | None:
    """The exception a running `retry()` of task `task_id` was given, while it publishes the next attempt."""
    current = _retry_cause.get()
    return current[1] if current is not None and current[0] == task_id else None


def _release_connections() -> None:
    try:
        close_old_connections()
    except Exception:  # housekeeping must never turn a finished task into a failed one
        logger.warning("could not release database connections after an async task", exc_info=True)


async def _run_with_request(task: Task[Any, Any], request: Context, coro: Coroutine[Any, Any, R]) -> R:
    token = _coroutine_request.set((task, request))
    try:
        return await coro
    finally:
        _coroutine_request.reset(token)
        # Async ORM calls ran on asgiref's worker thread: give its connection back like Celery does after
        # sync tasks, instead of keeping it open for the life of the process.
        await sync_to_async(_release_connections)()


def _coroutine_runner(func: Callable[..., Any], *, bound: bool) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(self: Task[Any, Any], *args: Any, **kwargs: Any) -> Any:
        coro = func(self, *args, **kwargs) if bound else func(*args, **kwargs)
        return run_coroutine(_run_with_request(self, self.request, coro))

    if not bound:
        # `run` is now a method: show the instance first, or inspect.signature(task.run) (which drops the
        # first parameter of a bound method) would drop the coroutine's own first parameter instead.
        signature = inspect.signature(func)
        instance = inspect.Parameter("__task", inspect.Parameter.POSITIONAL_ONLY)  # a name no task uses
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[instance, *signature.parameters.values()]
        )
    return run


class PlatformTask(Task[P, R_co]):
    """Base task: sync tasks unchanged; `async def` tasks run on one event loop per worker process."""

    is_coroutine: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("run")
        if raw is None:
            return
        # Function tasks get `run = staticmethod(fun)`, or the plain function when bound (bind=True).
        func = raw.__func__ if isinstance(raw, staticmethod) else raw
        if not inspect.iscoroutinefunction(func):
            return
        cls.run = _coroutine_runner(func, bound=not isinstance(raw, staticmethod))  # type: ignore[method-assign]
        cls.is_coroutine = True

    def _get_request(self) -> Context:
        current = _coroutine_request.get()
        if current is not None and current[0] is self:
            return current[1]
        return cast(Context, super()._get_request())  # type: ignore[misc]

    request = property(_get_request)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        exc = kwargs.get("exc", args[2] if len(args) > 2 else None)
        token = _retry_cause.set((self.request.id, exc)) if isinstance(exc, BaseException) else None
        try:
            return super().retry(*args, **kwargs)
        finally:
            if token is not None:
                _retry_cause.reset(token)


class _TaskDecorator(Protocol):
    @overload
    def __call__(self, func: Callable[P, Coroutine[Any, Any, R]], /) -> PlatformTask[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> PlatformTask[P, R]: ...


class _BoundTaskDecorator(Protocol):
    @overload
    def __call__(self, func: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]], /) -> PlatformTask[P, R]: ...
    @overload
    def __call__(self, func: Callable[Concatenate[Any, P], R], /) -> PlatformTask[P, R]: ...


def task(*, name: str, **options: Any) -> _TaskDecorator:
    """A project task named `name` (sync or async); options are Celery's (max_retries, soft_time_limit ...)."""
    return cast(_TaskDecorator, shared_task(name=name, base=PlatformTask, **options))


def bound_task(*, name: str, **options: Any) -> _BoundTaskDecorator:
    """Like `task`, but the function receives the task instance first (`self.request`, `self.retry`)."""
    return cast(_BoundTaskDecorator, shared_task(name=name, base=PlatformTask, bind=True, **options))
