"""Where prepared audit records wait while MongoDB is down: a Redis list or append-only local files.

Both keep records in the order they were appended and hand them out in claims: a claim is acknowledged
(removed) only after its records are in MongoDB, so a crash in between replays them, and the writer's
idempotent inserts (the record id is the document `_id`) turn a replay into no duplicates.
"""

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from apps.audit.records import Kind

logger = logging.getLogger("apps.audit")

Entry = tuple[Kind, dict[str, Any]]


def encode_entry(kind: Kind, doc: dict[str, Any]) -> str:
    """One spool line; ValueError when the record holds text UTF-8 cannot encode (lone surrogates)."""
    data = dict(doc)
    data["created_at"] = doc["created_at"].isoformat()
    line = json.dumps({"k": kind, "d": data}, separators=(",", ":"), ensure_ascii=False)
    if not line.isascii():
        line.encode("utf-8")  # fail here, before anything is written, rather than halfway through an append
    return line


def decode_entry(line: str | bytes) -> Entry:
    payload = json.loads(line)
    doc = payload["d"]
    doc["created_at"] = datetime.fromisoformat(doc["created_at"])
    kind: Kind = "login" if payload["k"] == "login" else "operation"
    return kind, doc


def _decode_all(lines: list[Any], where: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, line in enumerate(lines, start=1):
        if not line or not line.strip():
            continue
        try:
            entries.append(decode_entry(line))
        except (ValueError, KeyError, TypeError):
            # Only a write cut short by a crash produces this; say so instead of stopping the spool for good.
            logger.error("audit spool: unreadable record skipped", extra={"spool": where, "line": number})
    return entries


@dataclass
class Claim:
    """Records taken from the spool; `ack()` removes them for good, `release()` leaves them for a retry."""

    items: list[Entry]
    _ack: Callable[[], None] = field(repr=False)
    _release: Callable[[], None] = field(repr=False)

    def ack(self) -> None:
        self._ack()

    def release(self) -> None:
        self._release()


class Spool(Protocol):
    name: str

    def append(self, entries: list[Entry]) -> None: ...

    def claim(self, limit: int) -> Claim | None:
        """The oldest records (an empty claim when nothing is waiting), or None when another process is
        draining records this process spooled (try again shortly)."""
        ...

    def size(self) -> int: ...

    def close(self) -> None: ...


def _noop() -> None:
    return None


# --- Redis -------------------------------------------------------------------------------------------------

_ACK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('ltrim', KEYS[2], tonumber(ARGV[2]), -1)
  redis.call('del', KEYS[1])
  return 1
end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisSpool:
    """One list shared by every process; a short lock lets one process at a time drain it."""

    def __init__(self, client: Any, key: str, *, lock_seconds: int = 120) -> None:
        self.client = client
        self.key = key
        self.lock_key = f"{key}:lock"
        self.lock_seconds = lock_seconds
        self.name = f"redis list {key}"

    def append(self, entries: list[Entry]) -> None:
        if entries:
            self.client.rpush(self.key, *(encode_entry(kind, doc) for kind, doc in entries))

    def claim(self, limit: int) -> Claim | None:
        token = secrets.token_hex(16)
        if not self.client.set(self.lock_key, token, nx=True, ex=self.lock_seconds):
            return None
        try:
            lines = self.client.lrange(self.key, 0, max(1, limit) - 1)
        except Exception:
            self._release(token)
            raise
        if not lines:
            self._release(token)
            return Claim([], _noop, _noop)
        count = len(lines)

        def ack() -> None:
            # Trim only while the lock is still ours: if it expired, another drainer may have trimmed already.
            if not self.client.eval(_ACK_SCRIPT, 2, self.lock_key, self.key, token, count):
                logger.warning("audit spool: lock expired before acknowledging; records will be replayed")

        return Claim(_decode_all(lines, self.name), ack, lambda: self._release(token))

    def _release(self, token: str) -> None:
        self.client.eval(_RELEASE_SCRIPT, 1, self.lock_key, token)

    def size(self) -> int:
        return int(self.client.llen(self.key))

    def close(self) -> None:
        return None


# --- Local files -------------------------------------------------------------------------------------------


class FileSpool:
    """Append-only JSON-lines segment files in one directory, named so that their order is the write order.

    A process appends to its own current segment while holding an exclusive lock on it; a segment is drained
    (by any process on this host) only once it is closed, and deleted after its records are in MongoDB.
    Segments of a process that died are picked up by the others or by the next start.
    """

    SUFFIX = ".jsonl"

    def __init__(self, directory: str | Path, *, segment_records: int = 5000) -> None:
        self.directory = Path(directory)
        self.segment_records = segment_records
        self.name = f"files in {self.directory}"
        self._lock = threading.Lock()
        self._current: Any = None
        self._current_path: Path | None = None
        self._current_count = 0
        self._pid = os.getpid()

    def _open_segment(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{self.SUFFIX}"
        path = self.directory / name
        handle = path.open("a", encoding="utf-8")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        self._current, self._current_path, self._current_count = handle, path, 0

    def _close_segment(self) -> None:
        handle = self._current
        if handle is None:
            return
        self._current, self._current_path = None, None
        try:
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            handle.close()  # also releases the lock: the segment is now drainable

    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        lines = [encode_entry(kind, doc) + "\n" for kind, doc in entries]  # all or nothing
        with self._lock:
            self._forget_if_forked()
            for line in lines:
                if self._current is None or self._current_count >= self.segment_records:
                    self._close_segment()
                    self._open_segment()
                self._current.write(line)
                self._current_count += 1
            self._current.flush()

    def _segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(self.SUFFIX))

    def claim(self, limit: int) -> Claim | None:
        with self._lock:
            self._forget_if_forked()
            self._close_segment()
        mine_busy = False
        own_marker = f"-{os.getpid()}-"
        for path in self._segments():
            try:
                handle = path.open("r", encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Another process's open segment, or another drainer on it.
                handle.close()
                mine_busy = mine_busy or own_marker in path.name
                continue
            if os.fstat(handle.fileno()).st_nlink == 0:  # drained and deleted while we waited for it
                handle.close()
                continue
            entries = _decode_all(handle.readlines(), str(path))

            def ack(path: Path = path, handle: Any = handle) -> None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                handle.close()

            return Claim(entries, ack, handle.close)
        return None if mine_busy else Claim([], _noop, _noop)

    def size(self) -> int:
        count = 0
        for path in self._segments():
            with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
                count += sum(1 for line in handle if line.strip())
        return count

    def _forget_if_forked(self) -> None:
        # A forked child shares the parent's open segment (and its lock): it must start its own.
        if self._pid != os.getpid():
            self._current, self._current_path, self._current_count = None, None, 0
            self._pid = os.getpid()

    def close(self) -> None:
        with self._lock:
            self._forget_if_forked()
            self._close_segment()


def spool_from_settings() -> Spool:
    from django.conf import settings

    if settings.AUDIT_SPOOL == "redis":
        backend = settings.CACHES["default"]["BACKEND"]
        if "django_redis" in backend:
            from django.core.cache import cache
            from django_redis import get_redis_connection

            return RedisSpool(get_redis_connection("default"), cache.make_key("audit:spool"))
        logger.warning("AUDIT_SPOOL=redis needs REDIS_URL; spooling audit records to files instead")
    return FileSpool(settings.AUDIT_SPOOL_DIR)
