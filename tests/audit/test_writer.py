import json
import logging
import threading
import time

import pytest

from apps.audit.documents import COLLECTIONS, TTL_INDEX_NAME, ensure_indexes
from apps.audit.records import login_record, new_record_id
from apps.audit.spool import FileSpool
from apps.audit.writer import AuditWriter
from tests.audit.conftest import login_logs, operation_logs


def _raw_operation(n: int, **extra):
    return {
        "id": new_record_id(),
        "created_at": time.time(),
        "request_id": f"req-{n}",
        "user_id": None,
        "username": None,
        "method": "POST",
        "path": f"/api/v1/things/{n}",
        "route": "api/v1/things/<int:n>",
        "status": 201,
        "duration_ms": 1.5,
        "ip": "127.0.0.1",
        "user_agent": "pytest",
        "query": None,
        "body": b'{"n": %d, "password": "p"}' % n,
        "body_size": 10,
        "content_type": "application/json",
        **extra,
    }


class Target:
    """Which database the writer talks to; tests switch it between a dead port and the real server."""

    def __init__(self, db):
        self.db = db

    def __call__(self):
        return self.db


@pytest.fixture(params=["file", "redis"])
def spool(request, tmp_path):
    if request.param == "file":
        spool = FileSpool(tmp_path / "spool")
        yield spool
        spool.close()
    else:
        yield request.getfixturevalue("redis_spool")


@pytest.fixture
def redis_spool():
    import secrets

    from django_redis import get_redis_connection

    from apps.audit.spool import RedisSpool

    client = get_redis_connection("default")
    key = f"test-audit-writer-spool-{secrets.token_hex(6)}"
    yield RedisSpool(client, key)
    client.delete(key, f"{key}:lock")


@pytest.fixture
def make_writer():
    writers = []

    def make(**kwargs):
        kwargs.setdefault("flush_interval", 0.05)
        kwargs.setdefault("retry_max_interval", 0.5)
        writer = AuditWriter(**kwargs)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close(timeout=2)


def test_writer_writes_prepared_records_in_batches_and_order(audit_db, spool, make_writer):
    writer = make_writer(database=Target(audit_db), spool=spool, batch_size=7)
    raws = [_raw_operation(i) for i in range(25)]
    for raw in raws:
        writer.submit("operation", raw)
    assert writer.flush(timeout=10)
    docs = operation_logs(audit_db)
    assert [d["_id"] for d in docs] == [r["id"] for r in raws]  # natural (insertion) order
    first = docs[0]
    assert first["body"] == {"n": 0, "password": "[REDACTED]"}
    assert first["route"] == "/api/v1/things/{n}"
    assert first["created_at"].tzinfo is not None
    assert spool.size() == 0 and writer.stats.written == 25


def test_writer_outage_loses_nothing_and_duplicates_nothing(audit_db, closed_port_db, spool, make_writer, caplog):
    caplog.set_level(logging.WARNING, logger="apps.audit")
    target = Target(closed_port_db)
    writer = make_writer(database=target, spool=spool, batch_size=8)
    before = [_raw_operation(i) for i in range(30)]
    for raw in before:
        writer.submit("operation", raw)
    writer.submit(
        "login",
        login_record(
            username="bob",
            user_id=None,
            success=False,
            reason="bad_credentials",
            ip="10.0.0.1",
            user_agent="pytest",
            request_id="r",
        ),
    )
    # MongoDB is down: nothing is written, everything waits in the spool, the request side never blocked.
    assert writer.flush(timeout=15) is False
    assert spool.size() == 31
    assert operation_logs(audit_db) == [] and login_logs(audit_db) == []
    assert any("MongoDB unavailable" in r.getMessage() for r in caplog.records)

    # Still down for a while: more records queue up behind the spooled ones.
    during = [_raw_operation(100 + i) for i in range(5)]
    for raw in during:
        writer.submit("operation", raw)
    assert writer.flush(timeout=15) is False
    assert spool.size() == 36

    # MongoDB is back.
    target.db = audit_db
    after = [_raw_operation(200 + i) for i in range(4)]
    for raw in after:
        writer.submit("operation", raw)
    assert writer.flush(timeout=15) is True
    docs = operation_logs(audit_db)
    expected = [r["id"] for r in before + during + after]
    assert [d["_id"] for d in docs] == expected  # all of them, once each, oldest first
    assert len(login_logs(audit_db)) == 1
    assert spool.size() == 0
    assert writer.stats.dropped == 0


def test_writer_replay_of_partly_written_spool_duplicates_nothing(audit_db, spool, make_writer):
    # A crash between inserting a claim and acknowledging it: the same records come out of the spool again.
    from apps.audit.records import PrepareOptions, prepare

    options = PrepareOptions.from_settings()
    entries = [("operation", prepare("operation", _raw_operation(i), options)) for i in range(12)]
    spool.append(entries)
    audit_db[COLLECTIONS["operation"]].insert_many([doc for _k, doc in entries[:5]])
    writer = make_writer(database=Target(audit_db), spool=spool, batch_size=4)
    writer._spool_pending = True  # what a restarted process finds out on its first spool check
    assert writer.flush(timeout=10)
    ids = [d["_id"] for d in operation_logs(audit_db)]
    assert ids == [doc["_id"] for _k, doc in entries]
    assert spool.size() == 0


def test_writer_resubmitted_record_is_stored_once(audit_db, spool, make_writer):
    writer = make_writer(database=Target(audit_db), spool=spool)
    raw = _raw_operation(1)
    writer.submit("operation", raw)
    writer.submit("operation", dict(raw))
    writer.submit("operation", _raw_operation(2))
    assert writer.flush(timeout=10)
    assert len(operation_logs(audit_db)) == 2


def test_writer_records_spooled_at_exit_are_written_by_the_next_process(
    audit_db, closed_port_db, tmp_path, make_writer
):
    first = make_writer(database=Target(closed_port_db), spool=FileSpool(tmp_path))
    raws = [_raw_operation(i) for i in range(6)]
    for raw in raws:
        first.submit("operation", raw)
    first.close(timeout=5)  # what atexit does
    assert operation_logs(audit_db) == []

    second = make_writer(database=Target(audit_db), spool=FileSpool(tmp_path))
    assert second.flush(timeout=10)  # a flush also collects what others left in the spool
    assert [d["_id"] for d in operation_logs(audit_db)] == [r["id"] for r in raws]
    assert list(tmp_path.iterdir()) == []


def test_writer_full_buffer_overflows_to_spool_without_loss(audit_db, spool, make_writer):
    gate = threading.Event()

    def slow_database():
        gate.wait(10)  # the flusher is stuck (e.g. a slow MongoDB) while requests keep coming
        return audit_db

    writer = make_writer(database=slow_database, spool=spool, buffer_size=5, batch_size=50)
    raws = [_raw_operation(i) for i in range(20)]
    started = time.perf_counter()
    for raw in raws:
        writer.submit("operation", raw)
    assert time.perf_counter() - started < 1.0  # submit never waited for the stuck flusher
    assert spool.size() >= 15 - 1
    gate.set()
    assert writer.flush(timeout=15)
    assert sorted(d["_id"] for d in operation_logs(audit_db)) == sorted(r["id"] for r in raws)
    assert writer.stats.dropped == 0


def test_writer_logs_dropped_count_when_spool_fails_too(closed_port_db, tmp_path, make_writer, caplog):
    caplog.set_level(logging.ERROR, logger="apps.audit")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    writer = make_writer(database=Target(closed_port_db), spool=FileSpool(blocker / "spool"), buffer_size=3)
    for i in range(8):
        writer.submit("operation", _raw_operation(i))
    assert writer.flush(timeout=15) is False
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "dropping records must be logged"
    assert writer.stats.dropped >= 5
    assert max(getattr(r, "dropped_total", 0) for r in errors) == writer.stats.dropped


def test_writer_creates_indexes_with_retention_ttl(audit_db, spool, make_writer):
    writer = make_writer(database=Target(audit_db), spool=spool, retention_days=30)
    writer.submit("operation", _raw_operation(1))
    assert writer.flush(timeout=10)
    for collection in COLLECTIONS.values():
        indexes = {i["name"]: i for i in audit_db[collection].list_indexes()}
        assert indexes[TTL_INDEX_NAME]["expireAfterSeconds"] == 30 * 86400
        assert dict(indexes[TTL_INDEX_NAME]["key"]) == {"created_at": 1}
    names = {i["name"] for i in audit_db[COLLECTIONS["operation"]].list_indexes()}
    assert {"user_id_created_at", "method_created_at", "status_created_at", "path_created_at"} <= names
    # A changed AUDIT_RETENTION_DAYS updates the TTL in place.
    ensure_indexes(audit_db, retention_days=7)
    indexes = {i["name"]: i for i in audit_db[COLLECTIONS["login"]].list_indexes()}
    assert indexes[TTL_INDEX_NAME]["expireAfterSeconds"] == 7 * 86400


def _child_submits(count: int, conn) -> None:
    from apps.audit.writer import get_writer, submit

    ids = []
    for i in range(count):
        raw = _raw_operation(1000 + i)
        ids.append(raw["id"])
        submit("operation", raw)
    conn.send((get_writer().flush(timeout=30), ids))


def test_writer_works_in_a_forked_child(audit_db):
    """Celery prefork workers: the child gets a writer of its own (thread, buffer, connections)."""
    import multiprocessing

    from apps.audit.writer import get_writer

    parent_raw = _raw_operation(1)
    get_writer().submit("operation", parent_raw)  # the parent's flusher thread is running when it forks
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_submits, args=(5, sender))
    child.start()
    assert receiver.poll(60), "the child did not answer"
    child_flushed, child_ids = receiver.recv()
    child.join(30)
    assert child.exitcode == 0 and child_flushed is True
    assert get_writer().flush(timeout=15)
    stored = sorted(d["_id"] for d in operation_logs(audit_db))
    assert stored == sorted([parent_raw["id"], *child_ids])  # every record once: none lost, none copied twice


def _unencodable_spool_line(n: int, **fields):
    """A spooled record holding a lone surrogate, as older versions could spool it (JSON-escaped, so the
    line itself is ASCII): decoding it gives back a string BSON cannot encode."""
    from apps.audit.records import PrepareOptions, prepare

    doc = {**prepare("operation", _raw_operation(n), PrepareOptions.from_settings()), **fields}
    doc["created_at"] = doc["created_at"].isoformat()
    return json.dumps({"k": "operation", "d": doc})


def test_writer_skips_a_record_mongodb_cannot_encode_and_writes_the_rest(audit_db, tmp_path, make_writer, caplog):
    caplog.set_level(logging.ERROR, logger="apps.audit")
    lines = [
        _unencodable_spool_line(1),
        _unencodable_spool_line(2, body={"note": "x\ud800"}),  # salvaged without its body
        _unencodable_spool_line(3, path="/api/v1/\udfff-secret-path"),  # cannot be salvaged: skipped
        _unencodable_spool_line(4),
    ]
    ids = [json.loads(line)["d"]["_id"] for line in lines]
    (tmp_path / f"{1:020d}-99999-abcd.jsonl").write_text("\n".join(lines) + "\n")
    writer = make_writer(database=Target(audit_db), spool=FileSpool(tmp_path))
    assert writer.flush(timeout=10)
    docs = operation_logs(audit_db)
    assert [d["_id"] for d in docs] == [ids[0], ids[1], ids[3]]
    assert docs[1]["body"] is None and docs[0]["body"] == {"n": 1, "password": "[REDACTED]"}
    assert list(tmp_path.iterdir()) == []  # the spool is not stuck on the bad record
    assert writer.stats.skipped_bad == 1
    [skipped] = [r for r in caplog.records if "cannot be stored" in r.getMessage()]
    assert skipped.id == ids[2]
    assert "secret-path" not in skipped.getMessage() and skipped.exc_info is None  # no record contents


def test_writer_spools_all_but_a_record_it_cannot_encode(audit_db, closed_port_db, spool, make_writer, monkeypatch):
    from apps.audit import writer as writer_module

    real_prepare = writer_module.prepare

    def prepare_keeping_surrogates(kind, raw, options):  # as if a string had escaped the records' scrubbing
        return {**real_prepare(kind, raw, options), "path": raw["path"]}

    monkeypatch.setattr(writer_module, "prepare", prepare_keeping_surrogates)
    target = Target(closed_port_db)
    writer = make_writer(database=target, spool=spool)
    raws = [_raw_operation(1), _raw_operation(2, path="/api/v1/\ud800"), _raw_operation(3)]
    for raw in raws:
        writer.submit("operation", raw)
    assert writer.flush(timeout=15) is False  # MongoDB is down: the good records wait in the spool
    assert spool.size() == 2 and writer.stats.skipped_bad == 1
    target.db = audit_db
    assert writer.flush(timeout=15) is True
    assert [d["_id"] for d in operation_logs(audit_db)] == [raws[0]["id"], raws[2]["id"]]
    assert spool.size() == 0 and writer.stats.dropped == 0
