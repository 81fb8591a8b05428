"""Shared fixtures. The suite runs against real services: start it with `make test` (scripts/test.sh)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import AsyncClient


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or not settings.REDIS_URL or not settings.MONGODB_URL:
        pytest.exit(
            "The suite needs PostgreSQL, Redis, MongoDB and S3: run it with `make test` (scripts/test.sh).",
            returncode=2,
        )


@pytest.fixture(scope="session", autouse=True)
def _external_state_cleanup() -> Iterator[None]:
    """This run's bucket exists from the start (as initdb makes it); its MongoDB database, bucket and Redis keys
    are dropped when the session ends."""
    from apps.storage.objects import ensure_bucket

    ensure_bucket(force=True)
    yield
    from django_redis import get_redis_connection

    from apps.core import mongo

    try:
        mongo.connect(force=True)
        db = mongo.database()
        db.client.drop_database(db.name)
    except Exception:
        pass
    try:
        redis = get_redis_connection("default")
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        for key in redis.scan_iter(f"{prefix}*", count=1000):
            redis.delete(key)
    except Exception:
        pass
    try:
        from apps.storage.client import get_client

        client = get_client()
        if client.bucket_exists(settings.S3_BUCKET):
            for obj in client.list_objects(settings.S3_BUCKET, recursive=True):
                client.remove_object(settings.S3_BUCKET, obj.object_name)
            client.remove_bucket(settings.S3_BUCKET)
    except Exception:
        pass


@pytest.fixture(scope="session", autouse=True)
def _close_shared_thread_connection(django_db_setup: None) -> Iterator[None]:
    """Close the DB connection of asgiref's shared sync thread before the test database is dropped.

    Async tests run their ORM calls on that one thread; its open connection would otherwise keep the test
    database busy at teardown.
    """
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _fresh_redis_keys() -> None:
    """Each test starts without this run's Redis keys (sessions, throttles, challenges, cache)."""
    from apps.core.redis import sync_redis

    redis = sync_redis()
    keys = list(redis.scan_iter(f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture
def client() -> AsyncClient:
    """An async client going through the whole ASGI middleware stack of the real app."""
    return AsyncClient()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def envelope_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"code", "message", "data"}, body
    return body
