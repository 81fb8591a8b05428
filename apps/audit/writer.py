"""The non-blocking audit writer: a bounded buffer, a background flusher thread, a spool for outages.

Requests call `submit()`, which only puts a raw record on a `queue.Queue` (never waits for MongoDB). The
flusher thread prepares records (redaction, user-agent parsing), and writes them in batches with
`insert_many` keyed by the record id, so a retried batch never duplicates. When MongoDB is unreachable the
batch goes to the spool and every later one follows it there until the spool has been written back, oldest
first; so records reach MongoDB in order. A full buffer overflows to the spool too; a record is dropped
only when even the spool fails, and that is logged as an error with the count.
"""

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bson.errors import InvalidDocument
from django.conf import settings
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from apps.audit.documents import COLLECTIONS, ensure_indexes
from apps.audit.records import Kind, PrepareOptions, prepare
from apps.audit.spool import Claim, Entry, Spool, encode_entry, spool_from_settings

logger = logging.getLogger("apps.audit")

DUPLICATE_KEY = 11000
# What encoding a record as BSON (or as the spool's UTF-8 JSON) raises for a record that can never be stored,
# as opposed to an outage; ValueError covers UnicodeEncodeError (lone surrogates).
UNENCODABLE = (InvalidDocument, OverflowError, TypeError, ValueError)
DRAIN_BUSY_RETRY = 0.2  # another process is draining our spooled records: look again soon
ORPHAN_CHECK_INTERVAL = 30.0  # look for records other (dead) processes left in the spool


class MongoUnavailable(Exception):
    """MongoDB could not take the batch now; it must be kept and retried."""


@dataclass
class _Marker:
    stop: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


@dataclass
class WriterStats:
    written: int = 0
    spooled: int = 0
    dropped: int = 0
    skipped_bad: int = 0
    cpu_seconds: float = 0.0  # CPU time of the flusher thread (what writing costs this process)


def _default_database() -> Database[Any]:
    from apps.core import mongo

    return mongo.database()


class AuditWriter:
    def __init__(
        self,
        *,
        database: Callable[[], Database[Any]] = _default_database,
        spool: Spool | None = None,
        buffer_size: int | None = None,
        batch_size: int | None = None,
        flush_interval: float | None = None,
        retry_max_interval: float | None = None,
        retention_days: int | None = None,
    ) -> None:
        self._database = database
        self._spool = spool
        self.buffer_size = buffer_size or settings.AUDIT_BUFFER_SIZE
        self.batch_size = max(1, batch_size or settings.AUDIT_BATCH_SIZE)
        self.flush_interval = settings.AUDIT_FLUSH_INTERVAL if flush_interval is None else flush_interval
        self.retry_max_interval = retry_max_interval or settings.AUDIT_RETRY_MAX_INTERVAL
        self.retention_days = retention_days or settings.AUDIT_RETENTION_DAYS
        self.stats = WriterStats()
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._queue: queue.Queue[tuple[Kind, dict[str, Any]] | _Marker] = queue.Queue(maxsize=self.buffer_size)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self._held: list[Entry] = []  # prepared records neither MongoDB nor the spool would take
        self._spool_pending = False  # records of ours wait in the spool: later ones must queue behind them
        self._down_since: float | None = None
        self._retry_delay = 0.0
        self._next_drain = 0.0
        self._indexed: set[tuple[int, str]] = set()

    # --- request side ----------------------------------------------------------------------------------

    @property
    def spool(self) -> Spool:
        if self._spool is None:
            self._spool = spool_from_settings()
        return self._spool

    def submit(self, kind: Kind, raw: dict[str, Any]) -> None:
        """Hand a raw record over; never blocks on MongoDB."""
        if self._pid != os.getpid():
            self._after_fork()
        self._ensure_started()
        try:
            self._queue.put_nowait((kind, raw))
        except queue.Full:
            self._overflow(kind, raw)

    def _overflow(self, kind: Kind, raw: dict[str, Any]) -> None:
        try:
            entry = (kind, prepare(kind, raw, PrepareOptions.from_settings()))
            self.spool.append([entry])
            self.stats.spooled += 1
            self._spool_pending = True
        except Exception:
            self.stats.dropped += 1
            logger.error(
                "audit buffer full and spool failed: record dropped",
                exc_info=True,
                extra={"dropped": 1, "dropped_total": self.stats.dropped},
            )
            return
        if self.stats.spooled % 1000 == 1:
            logger.warning(
                "audit buffer full (%s records): overflowing to the spool",
                self.buffer_size,
                extra={"spool": self.spool.name},
            )

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted before is written; True when it all reached MongoDB (spool empty)."""
        if self._pid != os.getpid():
            self._after_fork()
        self._ensure_started()
        marker = _Marker()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout) and marker.ok

    def close(self, timeout: float = 5.0) -> None:
        """Stop the flusher after writing (or spooling) what is buffered. Best effort, for process exit."""
        if self._closed or self._pid != os.getpid():
            return
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            marker = _Marker(stop=True)
            try:
                self._queue.put(marker, timeout=timeout)
                marker.done.wait(timeout)
            except queue.Full:
                pass
        # Whatever the thread could not take (it died, or timed out) goes to the spool.
        leftovers = self._take_nowait(self._queue.qsize() + 1)
        records = [item for item in leftovers if not isinstance(item, _Marker)]
        entries, self._held = self._held + self._prepare_all(records), []
        self._to_spool(entries)
        if self._held:
            self.stats.dropped += len(self._held)
            logger.error(
                "audit: %s records lost at exit (MongoDB and the spool unavailable)",
                len(self._held),
                extra={"dropped": len(self._held), "dropped_total": self.stats.dropped},
            )
            self._held = []
        try:
            self.spool.close()
        except Exception:
            logger.exception("audit spool: close failed")

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._closed:
                thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                thread.start()
                self._thread = thread

    def _after_fork(self) -> None:
        # The child gets a copy of the parent's buffer (the parent writes those) but not its thread.
        self._reset_process_state()
        self._spool = None

    # --- flusher thread ----------------------------------------------------------------------------------

    def _take_nowait(self, limit: int) -> list[Any]:
        items: list[Any] = []
        while len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _collect(self) -> tuple[list[tuple[Kind, dict[str, Any]]], list[_Marker]]:
        """Up to one batch: wait for a first item, then gather more until the batch is full or the interval
        has passed; a marker (flush/stop) ends the batch early."""
        wait = ORPHAN_CHECK_INTERVAL
        if self._spool_pending or self._held:
            wait = max(0.0, min(wait, self._next_drain - time.monotonic()))
        try:
            first = self._queue.get(timeout=max(wait, 0.01))
        except queue.Empty:
            return [], []
        records: list[tuple[Kind, dict[str, Any]]] = []
        markers: list[_Marker] = []
        deadline = time.monotonic() + self.flush_interval
        item: Any = first
        while True:
            if isinstance(item, _Marker):
                markers.append(item)
                break
            records.append(item)
            if len(records) >= self.batch_size:
                break
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
        return records, markers

    def _run(self) -> None:
        try:
            self._ensure_indexes(self._database())
        except Exception:
            logger.info("audit: MongoDB not reachable at start; indexes will be created on the first write")
        while True:
            markers: list[_Marker] = []
            try:
                records, markers = self._collect()
                cpu_started = time.thread_time()
                self._step(records, force=bool(markers))
                self.stats.cpu_seconds += time.thread_time() - cpu_started
            except Exception:  # the thread must survive anything a record or a backend throws at it
                logger.exception("audit writer: unexpected error")
            for marker in markers:
                marker.ok = not (self._spool_pending or self._held)
                marker.done.set()
                if marker.stop:
                    return

    def _step(self, records: list[tuple[Kind, dict[str, Any]]], *, force: bool) -> None:
        entries = self._held + self._prepare_all(records)
        self._held = []
        due = force or time.monotonic() >= self._next_drain
        drained = self._drain(orphans_only=not self._spool_pending) if due else None
        if not entries:
            return
        # Behind records of ours in the spool, or MongoDB known to be down (and not yet time to try again).
        if self._spool_pending or (self._down_since is not None and (not due or drained == "down")):
            self._to_spool(entries)
            return
        try:
            self._write(entries)
        except MongoUnavailable:
            self._mark_down()
            self._to_spool(entries)

    def _prepare_all(self, records: list[tuple[Kind, dict[str, Any]]]) -> list[Entry]:
        options = PrepareOptions.from_settings()
        entries: list[Entry] = []
        for kind, raw in records:
            try:
                entries.append((kind, prepare(kind, raw, options)))
            except Exception:
                self.stats.skipped_bad += 1
                logger.exception("audit: record could not be prepared and is skipped", extra={"id": raw.get("id")})
        return entries

    def _to_spool(self, entries: list[Entry]) -> None:
        if not entries:
            return
        try:
            try:
                self.spool.append(entries)
            except (TypeError, ValueError):
                # One record the spool cannot encode must not keep the others out (nor in memory forever).
                entries = self._encodable(entries)
                self.spool.append(entries)
        except Exception:
            self._hold(entries)
            return
        self.stats.spooled += len(entries)
        self._spool_pending = True

    def _encodable(self, entries: list[Entry]) -> list[Entry]:
        kept: list[Entry] = []
        for kind, doc in entries:
            try:
                encode_entry(kind, doc)
            except (TypeError, ValueError) as exc:
                self._skip_unencodable(doc, exc)
            else:
                kept.append((kind, doc))
        return kept

    def _hold(self, entries: list[Entry]) -> None:
        room = max(0, self.buffer_size - len(self._held))
        self._held.extend(entries[:room])
        lost = len(entries) - room
        if lost > 0:
            self.stats.dropped += lost
            logger.error(
                "audit: MongoDB and the spool are both unavailable; %s records dropped",
                lost,
                extra={"dropped": lost, "dropped_total": self.stats.dropped},
            )
        else:
            logger.warning("audit: spool unavailable; %s records held in memory", len(self._held), exc_info=True)
        self._schedule_retry()

    def _mark_down(self) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("audit: MongoDB unavailable; records go to the spool (%s) until it is back", self.spool.name)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._retry_delay = min(self.retry_max_interval, max(0.5, self._retry_delay * 2))
        self._next_drain = time.monotonic() + self._retry_delay

    def _mark_up(self) -> None:
        if self._down_since is not None:
            logger.warning("audit: MongoDB is back after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
            self._retry_delay = 0.0

    def _drain(self, *, orphans_only: bool = False) -> str:
        """Write the spool back to MongoDB, oldest first, one claim at a time: "ok", "busy", "down", "error"."""
        written = 0
        while True:
            try:
                claim: Claim | None = self.spool.claim(self.batch_size * 10)
            except Exception:
                logger.warning("audit spool: cannot read it now", exc_info=True)
                self._schedule_retry()
                return "error"
            if claim is None:  # another process is writing our spooled records back right now
                if not orphans_only:
                    self._next_drain = time.monotonic() + DRAIN_BUSY_RETRY
                return "busy"
            if not claim.items:
                claim.ack()
                break
            try:
                self._write(claim.items, replay=True)
            except MongoUnavailable:
                claim.release()
                self._mark_down()
                return "down"
            except Exception:
                claim.release()
                raise
            claim.ack()
            written += len(claim.items)
        if written:
            logger.info("audit: %s spooled records written to MongoDB", written, extra={"written": written})
        self._spool_pending = False
        self._next_drain = time.monotonic() + ORPHAN_CHECK_INTERVAL
        return "ok"

    # --- MongoDB ---------------------------------------------------------------------------------------

    def _ensure_indexes(self, db: Database[Any]) -> None:
        key = (id(db.client), db.name)
        if key not in self._indexed:
            ensure_indexes(db, retention_days=self.retention_days)
            self._indexed.add(key)

    def _write(self, entries: list[Entry], *, replay: bool = False) -> None:
        """Insert in order, in batches; duplicates (a replay of records already written) are skipped."""
        try:
            db = self._database()
            self._ensure_indexes(db)
            for start in range(0, len(entries), self.batch_size):
                self._insert_batch(db, entries[start : start + self.batch_size], replay=replay)
        except MongoUnavailable:
            raise
        except (PyMongoError, OSError) as exc:
            raise MongoUnavailable(str(exc)) from exc
        self.stats.written += len(entries)
        self._mark_up()

    def _insert_batch(self, db: Database[Any], entries: list[Entry], *, replay: bool) -> None:
        # Consecutive records of one kind go in one insert_many; kinds alternate rarely.
        groups: list[tuple[Kind, list[dict[str, Any]]]] = []
        for kind, doc in entries:
            if groups and groups[-1][0] == kind:
                groups[-1][1].append(doc)
            else:
                groups.append((kind, [doc]))
        for kind, docs in groups:
            collection = db[COLLECTIONS[kind]]
            if replay:
                existing = {d["_id"] for d in collection.find({"_id": {"$in": [d["_id"] for d in docs]}}, {"_id": 1})}
                docs = [d for d in docs if d["_id"] not in existing]
            self._insert_ordered(collection, docs)

    def _insert_ordered(self, collection: Any, docs: list[dict[str, Any]]) -> None:
        while docs:
            try:
                collection.insert_many(docs, ordered=True)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or []
                if not errors:
                    raise
                first = errors[0]
                index = int(first.get("index", 0))
                if first.get("code") != DUPLICATE_KEY:
                    # MongoDB refuses this one record for good (it is not an outage): skip it, loudly.
                    self.stats.skipped_bad += 1
                    logger.error(
                        "audit: MongoDB rejected a record; skipped",
                        extra={"id": docs[index].get("_id"), "code": first.get("code")},
                    )
                docs = docs[index + 1 :]
            except UNENCODABLE:
                docs = self._insert_one_by_one(collection, docs)

    def _insert_one_by_one(self, collection: Any, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A record that cannot be encoded as BSON: store it without its body rather than not at all.
        for doc in docs:
            try:
                collection.insert_one(doc)
            except DuplicateKeyError:
                continue
            except UNENCODABLE:
                salvaged = {**doc, "body": None, "query": {}}
                try:
                    collection.insert_one(salvaged)
                except DuplicateKeyError:
                    continue
                except UNENCODABLE as exc:
                    self._skip_unencodable(doc, exc)
        return []

    def _skip_unencodable(self, doc: dict[str, Any], exc: Exception) -> None:
        # Only the id and the error type: the message of an encoding error may quote the record's contents.
        self.stats.skipped_bad += 1
        logger.error(
            "audit: record cannot be stored; skipped",
            extra={"id": doc.get("_id"), "error": type(exc).__name__},
        )


_writer: AuditWriter | None = None
_writer_lock = threading.Lock()


def get_writer() -> AuditWriter:
    """The process's writer (a new one in a forked child), flushed at interpreter exit."""
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = AuditWriter()
                atexit.register(_writer.close)
    return _writer


def submit(kind: Kind, raw: dict[str, Any]) -> None:
    get_writer().submit(kind, raw)
