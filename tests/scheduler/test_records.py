"""Run records against the MongoDB-wire server: update ordering, value limits, and MongoDB outages."""

import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.core import mongo
from apps.scheduler import documents, records, writer
from apps.scheduler.records import TRUNCATED, jsonable
from apps.scheduler.selectors import task_run_get_sync
from apps.scheduler.tasks import ping
from tests.scheduler import tasks
from tests.scheduler.conftest import flush_records

ROOT = Path(__file__).resolve().parents[2]

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def apply(*updates: records.RunUpdate) -> dict[str, Any]:
    for update in updates:
        writer.submit(update)
    flush_records()
    record = task_run_get_sync(updates[0].task_id)
    assert record is not None
    return record


def new_id() -> str:
    return str(uuid.uuid4())


def started(task_id, retries=0, seconds=1.0):
    return records.started(
        task_id=task_id, task="t", args=[1], kwargs={}, retries=retries, worker="w@h", at=at(seconds)
    )


def queued(task_id, retries=0, seconds=0.0):
    return records.queued(task_id=task_id, task="t", args=[1], kwargs={"k": 1}, retries=retries, at=at(seconds))


def test_records_follow_a_run_through_its_states():
    task_id = new_id()
    record = apply(queued(task_id))
    assert record["status"] == "PENDING" and record["queued_at"] == at(0) and record["kwargs"] == {"k": 1}
    record = apply(started(task_id))
    assert record["status"] == "STARTED" and record["worker"] == "w@h" and record["started_at"] == at(1)
    record = apply(
        records.succeeded(task_id=task_id, task="t", retries=0, result={"ok": True}, at=at(2), duration_ms=1000.0)
    )
    assert record["status"] == "SUCCESS" and record["result"] == {"ok": True}
    assert record["finished_at"] == at(2) and record["duration_ms"] == 1000.0
    assert record["queued_at"] == at(0) and record["args"] == [1]


def test_late_publish_update_never_regresses_a_started_run():
    task_id = new_id()
    # The worker's STARTED reaches MongoDB before the publisher's PENDING.
    record = apply(started(task_id, seconds=5), queued(task_id, seconds=4))
    assert record["status"] == "STARTED"
    assert record["queued_at"] == at(4)  # the earlier, real queueing time wins
    assert record["started_at"] == at(5)


def test_update_of_an_older_attempt_is_ignored():
    task_id = new_id()
    late_retry = records.retrying(
        task_id=task_id, task="t", retries=0, reason=ValueError("old"), traceback=None, at=at(3), duration_ms=1.0
    )
    record = apply(started(task_id, retries=1, seconds=2), late_retry)
    assert record["status"] == "STARTED" and record["retries"] == 1 and record["error"] is None


def test_retry_publish_marks_the_attempt_retrying_with_its_cause():
    task_id = new_id()
    try:
        raise ConnectionError("db went away")
    except ConnectionError as exc:
        cause = exc
    retry = records.queued(task_id=task_id, task="t", args=[], kwargs={}, retries=1, at=at(2), retry_cause=cause)
    record = apply(queued(task_id), started(task_id), retry)
    assert record["status"] == "RETRY" and record["retries"] == 0
    assert record["error"] == "ConnectionError: db went away"
    assert "raise ConnectionError" in record["traceback"]
    assert record["queued_at"] == at(0)
    record = apply(started(task_id, retries=1, seconds=3))
    assert record["status"] == "STARTED" and record["retries"] == 1 and record["error"] is None


def test_redelivered_attempt_starts_again():
    task_id = new_id()
    record = apply(started(task_id, seconds=1), started(task_id, seconds=9))
    assert record["status"] == "STARTED" and record["started_at"] == at(9)


def test_long_results_are_truncated_and_small_ones_kept_as_json(settings):
    settings.TASK_RUN_RESULT_MAX_CHARS = 50
    assert jsonable({"a": [1, 2]}) == {"a": [1, 2]}
    assert jsonable((1, 2)) == [1, 2]
    assert jsonable("x" * 60) == "x" * 50 + TRUNCATED
    big = jsonable({"rows": list(range(100))})
    assert isinstance(big, str) and big.startswith('{"rows": [0, 1,') and big.endswith(TRUNCATED)
    assert jsonable(datetime(2030, 1, 1, tzinfo=UTC)) == "2030-01-01 00:00:00+00:00"


def test_values_mongodb_refuses_are_stored_as_text():
    task_id = new_id()
    record = apply(records.succeeded(task_id=task_id, task="t", retries=0, result=2**70, at=at(1), duration_ms=None))
    assert record["status"] == "SUCCESS"
    assert record["result"] == str(2**70)


def test_indexes_include_unique_task_id_and_retention(settings):
    settings.TASK_RUN_RETENTION_DAYS = 7
    documents.ensure_indexes()
    indexes = documents.collection().index_information()
    assert indexes["task_id_unique"]["unique"] is True
    assert indexes[documents.TTL_INDEX]["expireAfterSeconds"] == 7 * 86400
    settings.TASK_RUN_RETENTION_DAYS = 30
    documents.ensure_indexes()
    assert documents.collection().index_information()[documents.TTL_INDEX]["expireAfterSeconds"] == 30 * 86400


def test_eager_task_runs_are_recorded_too():
    result = tasks.add.apply(args=(3, 4))
    assert result.get() == 7
    flush_records()
    record = task_run_get_sync(result.id)
    assert record is not None
    assert record["status"] == "SUCCESS" and record["result"] == 7 and record["args"] == [3, 4]


@pytest.fixture
def mongodb_down(settings):
    settings.MONGODB_TIMEOUT_MS = 200
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    yield
    settings.MONGODB_TIMEOUT_MS = 2000
    mongo.connect(force=True)


def test_tasks_run_while_mongodb_is_down_and_records_follow_when_it_is_back(mongodb_down, caplog):
    caplog.set_level(logging.WARNING, logger="apps.scheduler.records")
    result = ping.apply(args=("still running",))
    assert result.get() == "still running"  # the task did not wait for, nor fail because of, MongoDB
    assert not writer.flush(timeout=1.5)  # its record is held back, not lost
    assert any("MongoDB unreachable" in r.getMessage() for r in caplog.records)

    mongo.connect(force=True)  # MongoDB is back
    flush_records()
    record = task_run_get_sync(result.id)
    assert record is not None and record["status"] == "SUCCESS" and record["result"] == "still running"
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_full_buffer_drops_new_records_and_says_so(mongodb_down, caplog):
    caplog.set_level(logging.ERROR, logger="apps.scheduler.records")
    small = writer.RecordWriter(capacity=2)
    accepted = [small.submit(queued(new_id())) for _ in range(5)]
    # One is being retried by the writer thread, two wait in the buffer, the rest are refused.
    assert accepted.count(False) >= 2
    assert any("buffer full" in r.getMessage() for r in caplog.records)


def test_concurrent_first_writes_from_two_processes_both_land():
    # The publisher's PENDING and the worker's STARTED often race to insert the same run's document.
    task_ids = [new_id() for _ in range(100)]
    script = (
        "import django, sys, json; django.setup();"
        "from apps.scheduler import writer; from tests.scheduler.test_records import started;"
        "ids = json.loads(sys.stdin.readline()); print('ready', flush=True); sys.stdin.readline();"
        "[writer.submit(started(task_id)) for task_id in ids];"
        "assert writer.flush(timeout=60)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env, text=True
    )
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps(task_ids) + "\n")
    worker.stdin.flush()
    assert worker.stdout.readline().strip() == "ready"  # set up, waiting for "go"
    worker.stdin.write("go\n")
    worker.stdin.close()
    for task_id in task_ids:
        writer.submit(queued(task_id))
    flush_records()
    assert worker.wait(90) == 0
    statuses = [(task_run_get_sync(task_id) or {}).get("status") for task_id in task_ids]
    assert statuses == ["STARTED"] * len(task_ids)
