"""Abusive frames over a real daphne socket: nesting past any event (40000, the socket stays open), frames past
WS_MAX_FRAME_BYTES (41300, open) and past daphne's own message cap (the server drops the connection)."""

import asyncio
import json

import pytest
from django.conf import settings

from apps.realtime.frames import MAX_DEPTH
from tests.realtime.conftest import access_token, make_user, recv_json, request, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)

DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024  # daphne's --websocket-max-message-size default


def _nested(depth: int, frame_id: str) -> str:
    """A ping frame whose nesting depth (the frame object counted) is `depth`."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"event": "ping", "id": "{frame_id}", "data": {inner}}}'


@pytest.fixture
async def socket(daphne_server):
    user = await make_user(username="limits")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}", max_size=None) as ws:
        yield ws


async def test_a_frame_nested_5000_deep_is_a_40000_error_and_the_socket_stays_open(socket):
    frame = _nested(5000, "deep")
    assert len(frame) < 11_000  # 10 KB: far below every size limit
    await socket.send(frame)
    reply = await recv_json(socket)
    assert reply["event"] == "error"
    assert reply["data"]["code"] == 40000
    assert str(MAX_DEPTH) in reply["data"]["message"]
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_the_frame_depth_limit_is_exact(socket):
    await socket.send(_nested(MAX_DEPTH, "at"))
    assert await recv_json(socket) == {"event": "ack", "id": "at", "data": "pong"}
    await socket.send(_nested(MAX_DEPTH + 1, "past"))
    assert (await recv_json(socket))["data"]["code"] == 40000


async def test_a_frame_below_daphnes_cap_but_over_the_limit_is_41300_and_the_socket_stays_open(socket):
    size = DAPHNE_MAX_MESSAGE_BYTES - 1024
    assert size > settings.WS_MAX_FRAME_BYTES
    await socket.send(json.dumps({"event": "ping", "id": "big", "data": "x" * size}))
    reply = await recv_json(socket)
    assert reply["data"]["code"] == 41300
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_a_frame_past_daphnes_cap_ends_the_connection(socket):
    # daphne (autobahn) fails the connection itself before the application sees the frame: no error frame can
    # be sent. The client sees the socket end without a close frame (1006); docs/hardening.md says so.
    await socket.send(json.dumps({"event": "ping", "id": "huge", "data": "x" * DAPHNE_MAX_MESSAGE_BYTES}))
    await asyncio.wait_for(socket.wait_closed(), 10)
    assert socket.close_code == 1006, (socket.close_code, socket.close_reason)
