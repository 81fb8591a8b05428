import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from pymongo import MongoClient

from apps.accounts.models import User
from apps.audit.documents import COLLECTIONS
from apps.audit.writer import get_writer
from apps.core import mongo
from tests.factories import UserFactory


def make_user(**fields: Any) -> User:
    return cast(User, UserFactory(**fields))


async def amake_user(**fields: Any) -> User:
    return await sync_to_async(make_user)(**fields)


@pytest.fixture
def audit_db() -> Iterator[Any]:
    """This run's MongoDB database with empty log collections (what earlier tests buffered is written first)."""
    assert get_writer().flush(timeout=15)
    db = mongo.database()
    for name in COLLECTIONS.values():
        db[name].delete_many({})
    yield db


@pytest.fixture
def closed_port_db() -> Iterator[Any]:
    """A database on a port nobody listens on: every operation fails fast, like a MongoDB that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client: MongoClient[Any] = MongoClient(
        f"mongodb://127.0.0.1:{port}/down", serverSelectionTimeoutMS=200, connectTimeoutMS=200, tz_aware=True
    )
    yield client["down"]
    client.close()


def operation_logs(db: Any, **query: Any) -> list[dict[str, Any]]:
    return list(db[COLLECTIONS["operation"]].find(query))


def login_logs(db: Any, **query: Any) -> list[dict[str, Any]]:
    return list(db[COLLECTIONS["login"]].find(query))


def logged_failed_login(db: Any, **fields: Any) -> dict[str, Any]:
    """Send a failed login attempt the way the auth service does (a sync signal) and return its stored log."""
    from apps.accounts.signals import login_attempted

    login_attempted.send(
        sender=None,
        **{"user_id": None, "success": False, "reason": "bad_credentials", "ip": "198.51.100.4", **fields},
    )
    assert get_writer().flush(timeout=15)
    [log] = login_logs(db)
    return log
