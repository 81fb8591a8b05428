import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.core.parsers import nesting_depth
from apps.realtime import frames
from apps.realtime.frames import FrameError


def parse(text: str | None, bytes_data: bytes | None = None, max_bytes: int = 1024) -> frames.Frame:
    return frames.parse(text, bytes_data, max_bytes=max_bytes)


def test_parse_reads_event_data_and_id():
    frame = parse('{"event": "chat.send", "data": {"room": "a"}, "id": "42"}')
    assert frame == frames.Frame(event="chat.send", data={"room": "a"}, id="42")
    assert parse('{"event": "ping"}') == frames.Frame(event="ping", data=None, id=None)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"ping"', "42", "null", ""])
def test_parse_refuses_what_is_not_a_json_object_with_40000(text):
    with pytest.raises(FrameError) as info:
        parse(text)
    assert info.value.code == 40000


@pytest.mark.parametrize("text", ['{"event": "ping", "data": "\\ud800"}', '{"event": "\\udc00x"}'])
def test_parse_refuses_lone_surrogate_escapes_with_40000(text):
    with pytest.raises(FrameError) as info:
        parse(text)
    assert info.value.code == 40000


def test_parse_keeps_surrogate_pairs():
    assert parse('{"event": "ping", "data": "\\ud83d\\ude00"}').data == "\U0001f600"


def test_parse_refuses_binary_frames_with_40000():
    with pytest.raises(FrameError) as info:
        parse(None, b'{"event": "ping"}')
    assert info.value.code == 40000


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"data": 1}, ["event"]),
        ({"event": None}, ["event"]),
        ({"event": 5}, ["event"]),
        ({"event": ""}, ["event"]),
        ({"event": "x" * 101}, ["event"]),
        ({"event": "ping", "id": 7}, ["id"]),
        ({"event": "ping", "id": "i" * 129}, ["id"]),
    ],
)
def test_parse_invalid_envelopes_are_validation_errors(body, loc):
    with pytest.raises(FrameError) as info:
        parse(json.dumps(body))
    assert info.value.code == 42200
    assert [item["loc"] for item in info.value.detail] == [loc]


def test_parse_validation_error_keeps_a_valid_id_and_event():
    with pytest.raises(FrameError) as info:
        parse('{"event": 3, "id": "abc"}')
    assert info.value.frame_id == "abc"
    assert info.value.event is None
    with pytest.raises(FrameError) as info:
        parse('{"event": "ping", "id": 3}')
    assert info.value.event == "ping"
    assert info.value.frame_id is None


def test_parse_refuses_frames_over_the_limit_with_41300():
    with pytest.raises(FrameError) as info:
        parse(json.dumps({"event": "x", "data": "a" * 2000}))
    assert info.value.code == 41300
    # the limit counts UTF-8 bytes, not characters
    with pytest.raises(FrameError):
        parse(json.dumps({"event": "x", "data": "é" * 600}, ensure_ascii=False))


def test_error_frame_shape():
    assert frames.error(frames.ErrorCode.NOT_FOUND, event="nope", frame_id="1") == {
        "event": "error",
        "id": "1",
        "data": {"code": 40400, "message": "Not found", "event": "nope", "detail": None},
    }
    assert "id" not in frames.error(frames.ErrorCode.BAD_REQUEST, event=None)


def test_jsonable_turns_ids_and_times_into_json_types():
    value = {"id": uuid.UUID(int=1), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "tags": {"a"}}
    assert frames.jsonable(value) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "at": "2026-01-02T03:04:05+00:00",
        "tags": ["a"],
    }
    assert json.loads(frames.encode({"event": "x", "data": value}))["data"]["id"].endswith("1")


@pytest.mark.parametrize("depth", [frames.MAX_DEPTH + 1, 900, 5000, 100_000])
def test_parse_refuses_frames_nested_past_the_limit_with_40000(depth):
    text = '{"event": "ping", "data": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    with pytest.raises(FrameError) as info:
        parse(text, max_bytes=1 << 20)
    assert info.value.code == 40000


def test_parse_takes_frames_nested_up_to_the_limit():
    data: Any = {"a": [[{"b": []}]]}  # 5 levels
    for _ in range(frames.MAX_DEPTH - 6):
        data = {"a": data}
    body = {"event": "ping", "data": data}
    assert nesting_depth(body, limit=100) == frames.MAX_DEPTH
    assert parse(json.dumps(body), max_bytes=1 << 20).data == data
