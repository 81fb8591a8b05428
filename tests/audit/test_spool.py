import logging
import secrets
from datetime import UTC, datetime

import pytest
from django_redis import get_redis_connection

from apps.audit.spool import FileSpool, RedisSpool, decode_entry, encode_entry


def _entry(n: int):
    return "operation", {"_id": f"id-{n:04d}", "n": n, "body": {"k": [1, "x"]}, "created_at": datetime.now(UTC)}


@pytest.fixture
def redis_spool():
    client = get_redis_connection("default")
    key = f"test-audit-spool-{secrets.token_hex(6)}"
    yield RedisSpool(client, key)
    client.delete(key, f"{key}:lock")


@pytest.fixture(params=["file", "redis"])
def spool(request, tmp_path):
    if request.param == "file":
        spool = FileSpool(tmp_path / "spool", segment_records=4)
        yield spool
        spool.close()
    else:
        yield request.getfixturevalue("redis_spool")


def _drain_ids(spool, limit=100):
    ids: list[str] = []
    while True:
        claim = spool.claim(limit)
        assert claim is not None
        if not claim.items:
            return ids
        ids.extend(doc["_id"] for _kind, doc in claim.items)
        claim.ack()


def test_entry_round_trip_keeps_kind_and_timestamp():
    when = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
    kind, doc = decode_entry(encode_entry("login", {"_id": "x", "created_at": when, "success": False}))
    assert kind == "login" and doc == {"_id": "x", "created_at": when, "success": False}


def test_spool_returns_records_in_append_order_across_appends(spool):
    spool.append([_entry(i) for i in range(3)])
    spool.append([_entry(i) for i in range(3, 10)])
    assert spool.size() == 10
    assert _drain_ids(spool, limit=3) == [f"id-{i:04d}" for i in range(10)]
    assert spool.size() == 0


def test_spool_release_keeps_records_for_the_next_claim(spool):
    spool.append([_entry(1), _entry(2)])
    claim = spool.claim(10)
    assert [d["_id"] for _k, d in claim.items] == ["id-0001", "id-0002"]
    claim.release()
    assert _drain_ids(spool) == ["id-0001", "id-0002"]


def test_spool_empty_claim_when_nothing_waits(spool):
    claim = spool.claim(10)
    assert claim is not None and claim.items == []


def test_redis_spool_lets_one_drainer_at_a_time(redis_spool):
    redis_spool.append([_entry(1)])
    first = redis_spool.claim(10)
    assert first is not None and len(first.items) == 1
    assert redis_spool.claim(10) is None  # busy: someone else holds the drain lock
    first.ack()
    assert redis_spool.size() == 0
    assert redis_spool.claim(10).items == []


def test_redis_spool_ack_after_lost_lock_trims_nothing(redis_spool):
    redis_spool.append([_entry(1), _entry(2)])
    claim = redis_spool.claim(10)
    redis_spool.client.delete(redis_spool.lock_key)  # the lock expired while the batch was being written
    claim.ack()
    assert redis_spool.size() == 2  # replayed later; the writer's idempotent insert makes that harmless


def test_file_spool_open_segment_is_drained_only_after_its_writer_closes_it(tmp_path):
    writer_side = FileSpool(tmp_path, segment_records=100)
    reader_side = FileSpool(tmp_path)
    writer_side.append([_entry(1), _entry(2)])
    # The segment is still open (and locked) by writer_side, which is this process: "busy", try later.
    assert reader_side.claim(10) is None
    writer_side.close()
    assert _drain_ids(reader_side) == ["id-0001", "id-0002"]
    assert list(tmp_path.iterdir()) == []


def test_file_spool_picks_up_segments_left_by_an_earlier_process(tmp_path):
    (tmp_path / f"{1:020d}-99999-abcd.jsonl").write_text(encode_entry(*_entry(7)) + "\n")
    spool = FileSpool(tmp_path)
    spool.append([_entry(8)])
    assert _drain_ids(spool) == ["id-0007", "id-0008"]


def test_file_spool_skips_a_torn_line_and_says_so(tmp_path, caplog):
    good = encode_entry(*_entry(1))
    (tmp_path / f"{1:020d}-99999-abcd.jsonl").write_text(good + "\n" + good[: len(good) // 2])
    caplog.set_level(logging.ERROR, logger="apps.audit")
    assert _drain_ids(FileSpool(tmp_path)) == ["id-0001"]
    assert any("unreadable record" in r.getMessage() for r in caplog.records)


def test_spool_refuses_an_unencodable_record_without_appending_any(spool):
    kind, doc = _entry(2)
    bad = (kind, {**doc, "_id": "id-0002", "body": "\ud800"})
    with pytest.raises(ValueError):
        spool.append([_entry(1), bad, _entry(3)])
    spool.append([_entry(4)])
    assert _drain_ids(spool) == ["id-0004"]
