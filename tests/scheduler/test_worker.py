"""A real worker process on the real Redis broker: sync and async tasks, run records, retries, redelivery."""

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from channels.layers import get_channel_layer
from django.core.cache import cache

from apps.scheduler.documents import RunStatus
from apps.scheduler.events import TASK_RUNS_GROUP
from apps.scheduler.tasks import ping, ping_async
from tests.scheduler import tasks
from tests.scheduler.conftest import status_is, wait_for_run


def test_worker_runs_sync_and_async_demo_tasks(worker):
    assert ping.delay().get(timeout=20) == "pong"
    assert ping_async.delay("hello").get(timeout=20) == "hello"
    assert tasks.add.delay(2, 40).get(timeout=20) == 42


def test_async_tasks_share_one_event_loop_per_worker_process(worker):
    results = [tasks.loop_identity.delay() for _ in range(10)]
    identities = [r.get(timeout=30) for r in results]
    loops_by_pid = defaultdict(set)
    threads_by_pid = defaultdict(set)
    for identity in identities:
        loops_by_pid[identity["pid"]].add(identity["loop"])
        threads_by_pid[identity["pid"]].add(identity["thread"])
    calls_by_pid = Counter(identity["pid"] for identity in identities)
    assert max(calls_by_pid.values()) >= 2  # at least one process ran several calls
    assert all(len(loops) == 1 for loops in loops_by_pid.values()), loops_by_pid
    assert all(len(threads) == 1 for threads in threads_by_pid.values()), threads_by_pid


def test_success_record_has_timings_worker_and_result(worker):
    result = tasks.add.delay(20, 22)
    assert result.get(timeout=20) == 42
    record = wait_for_run(result.id, until=status_is("SUCCESS"))
    assert record["task"] == "tests.scheduler.add"
    assert record["args"] == [20, 22] and record["kwargs"] == {}
    assert record["result"] == 42
    assert record["error"] is None and record["traceback"] is None
    assert record["worker"].startswith("tests-scheduler-")
    assert record["queued_at"] <= record["started_at"] <= record["finished_at"]
    assert record["duration_ms"] is not None and 0 <= record["duration_ms"] < 5000
    assert record["retries"] == 0 and record["schedule"] is None


def test_async_task_success_record(worker):
    result = ping_async.delay("from-async")
    assert result.get(timeout=20) == "from-async"
    record = wait_for_run(result.id, until=status_is("SUCCESS"))
    assert record["task"] == "scheduler.ping_async"
    assert record["result"] == "from-async"


def test_failure_record_has_error_and_traceback(worker):
    result = tasks.fail.delay("it broke")
    with pytest.raises(ValueError, match="it broke"):
        result.get(timeout=20)
    record = wait_for_run(result.id, until=status_is("FAILURE"))
    assert record["error"] == "ValueError: it broke"
    assert "Traceback (most recent call last)" in record["traceback"]
    assert "raise ValueError(message)" in record["traceback"]
    assert record["finished_at"] is not None


def test_async_failure_record(worker):
    result = tasks.async_fail.delay("async broke")
    with pytest.raises(RuntimeError):
        result.get(timeout=20)
    record = wait_for_run(result.id, until=status_is("FAILURE"))
    assert record["error"] == "RuntimeError: async broke"
    assert "async_fail" in record["traceback"]


def test_retried_task_record_ends_in_success_with_its_attempts(worker):
    result = tasks.flaky.delay(2)
    assert result.get(timeout=30) == 2
    record = wait_for_run(result.id, until=status_is("SUCCESS"))
    assert record["retries"] == 2
    assert record["result"] == 2
    assert record["error"] is None  # the last attempt's outcome, not the earlier failures'


def test_async_bound_task_sees_its_own_request_and_retries(worker):
    result = tasks.flaky_async.delay(1)
    assert result.get(timeout=30) == {"retries": 1, "task_id": result.id}
    record = wait_for_run(result.id, until=status_is("SUCCESS"))
    assert record["retries"] == 1


def test_retry_exhausted_ends_in_failure(worker):
    result = tasks.flaky.delay(10)  # max_retries=3
    with pytest.raises(ConnectionError):
        result.get(timeout=30)
    record = wait_for_run(result.id, until=status_is("FAILURE"))
    assert record["retries"] == 3
    assert record["error"] == "ConnectionError: attempt 3 failed"


async def test_every_status_change_is_pushed_to_task_run_readers(worker):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(TASK_RUNS_GROUP, channel)
    try:
        result = await asyncio.to_thread(tasks.flaky.delay, 1)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not seen or seen[-1]["status"] != "SUCCESS"):
            message = await asyncio.wait_for(layer.receive(channel), timeout=deadline - time.monotonic())
            assert message["type"] == "push.event" and message["event"] == "task.run"
            if message["data"]["task_id"] == result.id:
                seen.append(message["data"])
    finally:
        await layer.group_discard(TASK_RUNS_GROUP, channel)
    statuses = [record["status"] for record in seen]
    changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    # The worker's changes arrive in order; the publisher's PENDING may come first or fold into them.
    assert [s for s in changes if s != "PENDING"] == ["STARTED", "RETRY", "STARTED", "SUCCESS"]
    retry = next(record for record in seen if record["status"] == "RETRY")
    assert retry["error"] == "ConnectionError: attempt 0 failed" and retry["retries"] == 0
    assert retry["finished_at"] is None
    final = seen[-1]
    assert final["result"] == 1 and final["retries"] == 1
    assert isinstance(final["finished_at"], str) and final["finished_at"].endswith("+00:00")


def test_message_without_consumer_is_recorded_as_pending(worker):
    result = tasks.add.apply_async((1, 1), queue=f"nobody-listens-{uuid.uuid4().hex}")
    record = wait_for_run(result.id)
    assert record["status"] == RunStatus.PENDING
    assert record["queued_at"] is not None and record["started_at"] is None
    assert record["args"] == [1, 1]


def test_soft_time_limit_cancels_the_coroutine_and_records_failure(worker):
    marker = f"sleep-{uuid.uuid4().hex}"
    result = tasks.sleep_async.delay(10, marker)
    with pytest.raises(SoftTimeLimitExceeded):
        result.get(timeout=30)
    record = wait_for_run(result.id, until=status_is("FAILURE"))
    assert record["error"].startswith("SoftTimeLimitExceeded")
    deadline = time.monotonic() + 5
    while cache.get(marker) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(marker) == "cancelled"


def test_hard_time_limit_kills_the_task_and_records_failure(worker):
    result = tasks.overrun.delay(30)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=30)
    record = wait_for_run(result.id, until=status_is("FAILURE"))
    assert record["error"].startswith("TimeLimitExceeded")
    assert record["finished_at"] is not None
    assert tasks.add.delay(1, 1).get(timeout=30) == 2  # the pool replaced the killed process


def test_task_is_delivered_again_when_its_worker_process_dies(worker):
    marker = f"die-{uuid.uuid4().hex}"
    result = tasks.die_once.delay(marker)
    answer = result.get(timeout=90)
    assert answer.startswith("survived")
    record = wait_for_run(result.id, until=status_is("SUCCESS"))
    assert record["result"] == answer
    assert worker.alive()  # the pool replaced its lost process
