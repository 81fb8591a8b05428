"""MongoDB connection lifecycle for MongoEngine: connect once per process, reconnect after fork, fallback."""

import logging
import os
import threading
from typing import Any

import mongoengine
from django.conf import settings
from mongoengine.connection import DEFAULT_CONNECTION_NAME, get_db
from pymongo.database import Database
from pymongo.uri_parser import parse_uri

logger = logging.getLogger("apps.core.mongo")

DEFAULT_DB_NAME = "app"
_lock = threading.Lock()
_state: dict[str, Any] = {"pid": None, "url": None, "fallback": False}


def _database_name(url: str) -> str:
    try:
        return parse_uri(url, validate=False).get("database") or DEFAULT_DB_NAME
    except Exception:
        return DEFAULT_DB_NAME


def connect(url: str | None = None, *, force: bool = False) -> None:
    """Register the default MongoEngine connection (lazily opened by pymongo) for this process."""
    target = settings.MONGODB_URL if url is None else url
    with _lock:
        if not force and _state["pid"] == os.getpid() and _state["url"] == target:
            return
        mongoengine.disconnect(alias=DEFAULT_CONNECTION_NAME)
        if target:
            timeout = settings.MONGODB_TIMEOUT_MS
            mongoengine.connect(
                db=_database_name(target),
                host=target,
                alias=DEFAULT_CONNECTION_NAME,
                serverSelectionTimeoutMS=timeout,
                connectTimeoutMS=timeout,
                socketTimeoutMS=max(timeout * 5, 10000),
                uuidRepresentation="standard",
                tz_aware=True,
            )
            _state["fallback"] = False
        else:
            import mongomock

            logger.warning(
                "MONGODB_URL is not set: documents (operation logs, login logs, task runs) go to an in-process "
                "in-memory fallback and are LOST when this process exits. Set MONGODB_URL to keep them."
            )
            mongoengine.connect(
                db=DEFAULT_DB_NAME,
                alias=DEFAULT_CONNECTION_NAME,
                mongo_client_class=mongomock.MongoClient,
                tz_aware=True,
            )
            _state["fallback"] = True
        _state.update(pid=os.getpid(), url=target)


def is_fallback() -> bool:
    return bool(_state["fallback"])


def database() -> Database[Any]:
    """The default database, connecting first if this process has not yet (or was forked)."""
    if _state["pid"] != os.getpid():
        connect()
    return get_db(DEFAULT_CONNECTION_NAME)


def ping() -> None:
    """Raise unless the MongoDB server answers."""
    database().command("ping")


def _forget_after_fork() -> None:
    # pymongo clients are not fork-safe: the child drops the inherited client (without closing the parent's
    # sockets) and connects again on first use.
    from mongoengine import connection

    connection._connections.clear()
    connection._dbs.clear()
    _state["pid"] = None


def register_fork_handler() -> None:
    if not _state.get("fork_handler"):
        os.register_at_fork(after_in_child=_forget_after_fork)
        _state["fork_handler"] = True
