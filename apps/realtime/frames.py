"""The JSON frames of /ws/: parsing client frames, building acks, errors and pushes, encoding."""

import datetime
import decimal
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from pydantic import BaseModel

from apps.core.exceptions import DEFAULT_MESSAGES, ErrorCode
from apps.core.parsers import holds_lone_surrogate, nesting_depth

MAX_EVENT_LENGTH = 100
MAX_ID_LENGTH = 128
# Arrays and objects inside one another, the frame itself included. No event takes more than a few levels; a
# 10 KB frame can nest 5000 deep, which json (and every recursive walk after it) answers with RecursionError.
MAX_DEPTH = 32


@dataclass(frozen=True)
class Frame:
    event: str
    data: Any
    id: str | None


class FrameError(Exception):
    """A client frame that cannot be dispatched; answered with an error frame."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        event: str | None = None,
        detail: Any = None,
        frame_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES[code]
        self.event = event
        self.detail = detail
        self.frame_id = frame_id
        super().__init__(self.message)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal | Promise):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, default=_default, ensure_ascii=False, separators=(",", ":"))


def jsonable(value: Any) -> Any:
    """A value as plain JSON types (what the msgpack channel layer can carry)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=_default))


def _too_deep() -> str:
    return f"Frames may nest arrays and objects at most {MAX_DEPTH} deep"


def parse(text: str | None, bytes_data: bytes | None, *, max_bytes: int) -> Frame:
    """A client frame {"event": str, "data": any, "id": str?}, or FrameError (40000 / 41300 / 42200)."""
    if text is None:
        raise FrameError(ErrorCode.BAD_REQUEST, "Frames must be JSON text, not binary")
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError(ErrorCode.PAYLOAD_TOO_LARGE, f"Frames are limited to {max_bytes} bytes")
    try:
        body = json.loads(text)
    except ValueError:
        raise FrameError(ErrorCode.BAD_REQUEST, "Frames must be JSON objects") from None
    except RecursionError:
        raise FrameError(ErrorCode.BAD_REQUEST, _too_deep()) from None
    if not isinstance(body, dict):
        raise FrameError(ErrorCode.BAD_REQUEST, "Frames must be JSON objects")
    if nesting_depth(body, limit=MAX_DEPTH) > MAX_DEPTH:
        raise FrameError(ErrorCode.BAD_REQUEST, _too_deep())
    if holds_lone_surrogate(text, body):
        raise FrameError(ErrorCode.BAD_REQUEST, "Frames must not hold lone UTF-16 surrogate escapes")
    event = body.get("event")
    problems: list[dict[str, Any]] = []
    if "event" not in body or event is None:
        problems.append({"loc": ["event"], "msg": "Field required"})
    elif not isinstance(event, str):
        problems.append({"loc": ["event"], "msg": "Input should be a valid string"})
    elif not 0 < len(event) <= MAX_EVENT_LENGTH:
        problems.append({"loc": ["event"], "msg": f"String should have 1 to {MAX_EVENT_LENGTH} characters"})
    frame_id = body.get("id")
    if frame_id is not None and not (isinstance(frame_id, str) and len(frame_id) <= MAX_ID_LENGTH):
        problems.append({"loc": ["id"], "msg": f"Input should be a string of at most {MAX_ID_LENGTH} characters"})
        frame_id = None
    if problems:
        raise FrameError(
            ErrorCode.VALIDATION_ERROR,
            event=event if isinstance(event, str) and len(event) <= MAX_EVENT_LENGTH else None,
            detail=problems,
            frame_id=frame_id,
        )
    assert isinstance(event, str)
    return Frame(event=event, data=body.get("data"), id=frame_id)


def error(
    code: ErrorCode, message: str | None = None, *, event: str | None, detail: Any = None, frame_id: str | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "event": "error",
        "data": {
            "code": int(code),
            "message": message or DEFAULT_MESSAGES[code],
            "event": event,
            "detail": detail,
        },
    }
    if frame_id is not None:
        frame["id"] = frame_id
    return frame


def ack(frame_id: str, data: Any) -> dict[str, Any]:
    return {"event": "ack", "id": frame_id, "data": data}


def push(event: str, data: Any) -> dict[str, Any]:
    return {"event": event, "data": data}
