"""Readiness checks of every dependency; each answers "ok" or "error", never the reason (that goes to logs)."""

import asyncio
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from apps.core import mongo

logger = logging.getLogger("apps.core.health")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def _check_mongodb() -> None:
    mongo.ping()


def _check_object_storage() -> None:
    from apps.storage.client import get_client

    # Reachable is not enough: an S3 server that lost the bucket (an in-memory one restarted) cannot take uploads.
    if not get_client().bucket_exists(settings.S3_BUCKET):
        raise LookupError("the bucket is missing")


def _check_broker() -> None:
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.HEALTH_CHECK_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1, timeout=max(1, round(settings.HEALTH_CHECK_TIMEOUT)))


CHECKS: dict[str, tuple[Callable[[], None], bool]] = {
    # name: (check, thread_sensitive) — Django's DB connection lives on the sync thread.
    "database": (_check_database, True),
    "cache": (_check_cache, False),
    "mongodb": (_check_mongodb, False),
    "object_storage": (_check_object_storage, False),
    "broker": (_check_broker, False),
}


async def _run(name: str, check: Callable[[], None], thread_sensitive: bool) -> str:
    try:
        await asyncio.wait_for(
            sync_to_async(check, thread_sensitive=thread_sensitive)(),
            timeout=settings.HEALTH_CHECK_TIMEOUT + 1,
        )
    except Exception as exc:
        logger.warning("readiness check failed", extra={"check": name, "error_type": type(exc).__name__})
        return "error"
    return "ok"


async def readiness() -> dict[str, str]:
    names = list(CHECKS)
    results = await asyncio.gather(*(_run(name, *CHECKS[name]) for name in names))
    return dict(zip(names, results, strict=True))
