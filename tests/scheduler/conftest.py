"""Fixtures for scheduling: a real Celery worker and a real beat, as subprocesses on this run's services.

Isolation from other runs sharing the Redis server: this session publishes to (and its worker consumes) a queue
of its own. Subprocesses get the tests' environment with DATABASE_URL pointed at the test database.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from apps.accounts.models import User
from apps.scheduler import writer
from apps.scheduler.selectors import task_run_get_sync
from config.celery import app as celery_app
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant
from tests.scheduler import tasks as test_tasks

ROOT = Path(__file__).resolve().parents[2]

SCHEDULER_CODES = (
    "GET:/api/v1/tasks/registered",
    "GET:/api/v1/schedules",
    "POST:/api/v1/schedules",
    "GET:/api/v1/schedules/{schedule_id}",
    "PATCH:/api/v1/schedules/{schedule_id}",
    "DELETE:/api/v1/schedules/{schedule_id}",
    "POST:/api/v1/schedules/{schedule_id}/run",
    "GET:/api/v1/task-runs",
    "GET:/api/v1/task-runs/{task_id}",
)


# Other test runs on the same Redis server flush its default database (cache.clear() is FLUSHDB), which
# would take queued messages and results with it: the broker and results of these tests use another one.
BROKER_DB = 13


def _broker_url() -> str:
    parts = urlsplit(str(settings.REDIS_URL))
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))


def _forget_connections() -> None:
    # Connections, producers and the result backend made before a broker switch (app.close() would also
    # unregister the app, losing the shared tasks registered later).
    app: Any = celery_app
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    with suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
    with suppress(AttributeError):
        del app._local.backend


@pytest.fixture(scope="session", autouse=True)
def task_queue() -> Iterator[str]:
    """A queue only this session publishes to and only its worker consumes, on a database nobody flushes."""
    queue = f"tests-scheduler-{uuid.uuid4().hex[:12]}"
    previous = {
        "task_default_queue": celery_app.conf.task_default_queue,
        "broker_url": celery_app.conf.broker_url,
        "result_backend": celery_app.conf.result_backend,
    }
    _forget_connections()
    celery_app.conf.update(task_default_queue=queue, broker_url=_broker_url(), result_backend=_broker_url())
    assert celery_app.amqp.router.route({}, "scheduler.ping")["queue"].name == queue
    assert celery_app.connection_for_write().as_uri().endswith(f"/{BROKER_DB}")
    yield queue
    try:
        with celery_app.connection_for_write() as conn:
            cast(Any, conn.default_channel).client.delete(queue, f"_kombu.binding.{queue}")
    except Exception:
        pass
    _forget_connections()
    celery_app.conf.update(previous)


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def service_env(django_db_setup: Any, task_queue: str) -> dict[str, str]:
    """The tests' environment for worker and beat processes, on the test database and the test queue."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(
        DATABASE_URL=_database_url(),
        CELERY_TASK_DEFAULT_QUEUE=task_queue,
        CELERY_BROKER_URL=_broker_url(),
        CELERY_RESULT_BACKEND=_broker_url(),
        CELERY_BEAT_MAX_LOOP_INTERVAL="1",
        LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_TEST_NAME", None)
    return env


class Service:
    """A subprocess with its output in a file, stopped by process group (it is our own child)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


@pytest.fixture(scope="session")
def worker(service_env: dict[str, str], task_queue: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`celery -A config worker` (prefork, 2 processes) consuming this session's queue."""
    service = Service(
        "worker",
        [
            "worker",
            "-l",
            "info",
            "-P",
            "prefork",
            "-c",
            "2",
            "-Q",
            task_queue,
            "-n",
            f"{task_queue}@%h",
            "--include",
            "tests.scheduler.tasks",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        service_env,
        tmp_path_factory.mktemp("celery"),
    )
    try:
        assert test_tasks.add.delay(1, 2).get(timeout=90) == 3
    except Exception as exc:
        service.stop()
        pytest.fail(f"the worker did not answer: {exc!r}\n{service.output()}")
    yield service
    service.stop()


@pytest.fixture
def beat(transactional_db: Any, worker: Service, service_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """`celery -A config beat` with the database scheduler (waking up every second), for one test."""
    service = Service("beat", ["beat", "-l", "info", "-s", str(tmp_path / "beat-schedule")], service_env, tmp_path)
    yield service
    service.stop()


def wait_for_run(
    task_id: str, *, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll MongoDB until the run record of `task_id` exists (and satisfies `until`)."""
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = task_run_get_sync(task_id)
        if record is not None and (until is None or until(record)):
            return record
        time.sleep(0.05)
    raise AssertionError(
        f"run record of {task_id} not as expected within {timeout}s: {json.dumps(record, default=str)}"
    )


def status_is(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: record["status"] in statuses


async def await_run(task_id: str, **kwargs: Any) -> dict[str, Any]:
    return await sync_to_async(wait_for_run, thread_sensitive=False)(task_id, **kwargs)


def flush_records() -> None:
    assert writer.flush(timeout=10), "task-run records were not written in time"


async def signed_in(*codes: str, **fields: Any) -> tuple[Any, dict[str, str]]:
    user = cast(User, await sync_to_async(UserFactory)(**fields))
    if codes:
        await grant(user, *codes)
    return user, await bearer_headers(user)


@pytest.fixture
async def operator() -> tuple[Any, dict[str, str]]:
    """A user whose role grants every scheduling operation."""
    return await signed_in(*SCHEDULER_CODES, username="operator")


async def call(client: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return await getattr(client, method.lower())(f"/api/v1{path}", **kwargs)


async def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Await `check()` (sync, run in a thread) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await sync_to_async(check, thread_sensitive=False)()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
