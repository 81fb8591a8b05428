"""initdb step: the log collections' indexes and retention TTL (the writer also creates them on first write)."""

from typing import Any

from django.conf import settings

from apps.audit.documents import ensure_indexes


def seed(*, stdout: Any, style: Any) -> None:
    from pymongo.errors import PyMongoError

    from apps.core import mongo

    try:
        ensure_indexes(mongo.database(), retention_days=settings.AUDIT_RETENTION_DAYS)
    except PyMongoError:
        stdout.write(style.WARNING("initdb: MongoDB unreachable; audit indexes will be created on the first write"))
        return
    stdout.write(f"initdb: audit indexes ready (retention {settings.AUDIT_RETENTION_DAYS} days)")
