"""The task base class in-process: async tasks on one loop per process, sync tasks untouched, typed decorators."""

import inspect
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from apps.scheduler import runtime
from apps.scheduler.base import PlatformTask
from apps.scheduler.tasks import ping, ping_async
from tests.scheduler import tasks

ROOT = Path(__file__).resolve().parents[2]


def test_async_task_runs_on_the_process_loop_for_every_call():
    first = tasks.loop_identity()
    second = tasks.loop_identity()
    assert first["loop"] == second["loop"] == id(runtime.process_loop())
    assert first["thread"] == second["thread"] != threading.get_ident()


async def test_async_task_can_be_called_from_code_already_running_a_loop():
    # An eager call from an async view or test: the coroutine must not try to reuse the caller's loop.
    identity = tasks.loop_identity()
    assert identity["loop"] == id(runtime.process_loop())
    assert ping_async("inside") == "inside"


def test_sync_tasks_are_untouched():
    assert ping.is_coroutine is False and ping_async.is_coroutine is True
    assert isinstance(ping, PlatformTask) and isinstance(tasks.add, PlatformTask)
    assert ping("direct") == "direct"
    assert list(inspect.signature(ping.run).parameters) == ["message"]


def test_eager_async_task_result_is_the_awaited_value():
    result = ping_async.apply(args=("eager",))
    assert result.successful() and result.get() == "eager"


def test_bound_async_task_sees_its_own_request():
    result = tasks.flaky_async.apply(args=(0,), task_id="request-seen-in-coroutine")
    assert result.get() == {"retries": 0, "task_id": "request-seen-in-coroutine"}


def test_eager_retry_of_async_task_reenters_from_the_loop_thread():
    # In eager mode retry() runs the next attempt synchronously from inside the running coroutine.
    result = tasks.flaky_async.apply(args=(2,), task_id="eager-retry")
    assert result.get() == {"retries": 2, "task_id": "eager-retry"}


def test_async_task_exceptions_propagate_with_their_type():
    result = tasks.async_fail.apply(args=("nope",))
    assert result.failed()
    assert isinstance(result.result, RuntimeError) and str(result.result) == "nope"


def test_decorators_give_type_checkers_the_task_signature(tmp_path):
    sample = tmp_path / "sample_usage.py"
    sample.write_text(
        textwrap.dedent(
            """
            from apps.scheduler.tasks import ping, ping_async
            from tests.scheduler.tasks import add, flaky

            reveal_type(ping_async.delay("x").get())
            add.delay(1, 2)
            add.delay("one", 2)
            ping.delay(message=3)
            flaky.delay(1)
            flaky.delay()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--follow-imports=silent", str(sample)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in result.stdout.splitlines() if "sample_usage.py" in line]
    # The awaited value of the async task, not a coroutine.
    assert any(re.search(r'Revealed type is "(builtins\.)?str"', line) for line in lines), result.stdout
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 3, result.stdout
    assert any(":7:" in line and '"delay" of "Task"' in line for line in errors), result.stdout
    assert any(":8:" in line for line in errors), result.stdout
    assert any(":10:" in line for line in errors), result.stdout
