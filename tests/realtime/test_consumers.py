"""End to end: a real daphne process, the Redis channel layer and a websocket client over TCP."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from apps.accounts.tokens import encode_token
from apps.realtime.services import notify_user, notify_user_sync, task_run_push
from tests.helpers import bearer_headers, encrypt_like_webcrypto, grant
from tests.realtime.conftest import (
    access_token,
    assert_closed_with,
    assert_silent,
    make_user,
    recv_json,
    request,
    ws_connect,
)

pytestmark = pytest.mark.django_db(transaction=True)

TASK_RUNS = "GET:/api/v1/task-runs"


# --- authentication and the handshake -------------------------------------------------------------------


async def test_consumer_accepts_the_token_in_the_query(daphne_server):
    user = await make_user(username="q-user")
    token = await access_token(user)
    async with ws_connect(f"{daphne_server.ws_url}?token={token}") as ws:
        assert ws.subprotocol is None
        assert await request(ws, "ping", frame_id="p1") == {"event": "ack", "id": "p1", "data": "pong"}


async def test_consumer_accepts_the_token_as_bearer_subprotocol(daphne_server):
    user = await make_user(username="sp-user")
    token = await access_token(user)
    async with ws_connect(daphne_server.ws_url, subprotocols=["bearer", token]) as ws:
        assert ws.subprotocol == "bearer"
        assert await request(ws, "ping") == {"event": "ack", "id": "1", "data": "pong"}


async def test_consumer_ping_without_id_gets_no_ack(daphne_server):
    user = await make_user(username="no-id")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}") as ws:
        await ws.send(json.dumps({"event": "ping"}))
        await assert_silent(ws)


async def test_consumer_without_token_is_accepted_then_closed_4401(daphne_server):
    async with ws_connect(daphne_server.ws_url) as ws:
        await assert_closed_with(ws, 4401)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_consumer_with_a_bad_query_token_closes_4401(daphne_server, token):
    async with ws_connect(f"{daphne_server.ws_url}?token={token}") as ws:
        await assert_closed_with(ws, 4401)


async def test_consumer_with_a_bad_subprotocol_token_selects_bearer_then_closes_4401(daphne_server):
    async with ws_connect(daphne_server.ws_url, subprotocols=["bearer", "not-a-jwt"]) as ws:
        assert ws.subprotocol == "bearer"
        await assert_closed_with(ws, 4401)


async def test_consumer_with_an_expired_token_closes_4401(daphne_server):
    user = await make_user(username="expired")
    live = await access_token(user)
    from apps.accounts.tokens import decode_token

    claims = decode_token(live, typ="access")
    expired = encode_token(user_id=str(user.pk), session_id=claims.sid, typ="access", ttl=-60)
    async with ws_connect(f"{daphne_server.ws_url}?token={expired}") as ws:
        await assert_closed_with(ws, 4401)


async def test_consumer_refuses_a_refresh_token(daphne_server):
    user = await make_user(username="refresh-user")
    from tests.helpers import tokens_for

    pair = await tokens_for(user)
    async with ws_connect(f"{daphne_server.ws_url}?token={pair.refresh_token}") as ws:
        await assert_closed_with(ws, 4401)


async def test_consumer_with_a_token_of_an_ended_session_closes_4401(daphne_server, client):
    user = await make_user(username="ended")
    headers = await bearer_headers(user)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 200
    async with ws_connect(f"{daphne_server.ws_url}?token={token}") as ws:
        await assert_closed_with(ws, 4401)


async def test_consumer_of_a_deactivated_user_closes_4401(daphne_server):
    user = await make_user(username="inactive")
    token = await access_token(user)
    user.is_active = False
    await user.asave(update_fields=["is_active"])
    async with ws_connect(f"{daphne_server.ws_url}?token={token}") as ws:
        await assert_closed_with(ws, 4401)


async def test_consumer_allows_browsers_from_allowed_origins_and_clients_without_origin(daphne_server):
    user = await make_user(username="origin-ok")
    url = f"{daphne_server.ws_url}?token={await access_token(user)}"
    async with ws_connect(url, origin="http://localhost:3000") as ws:
        assert (await request(ws, "ping"))["data"] == "pong"
    async with ws_connect(url) as ws:  # no Origin header: not a browser
        assert (await request(ws, "ping"))["data"] == "pong"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example", "null"])
async def test_consumer_refuses_browsers_from_other_origins(daphne_server, origin):
    user = await make_user(username="origin-bad")
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}", origin=origin):
            pass
    assert info.value.response.status_code == 403


async def test_other_websocket_paths_are_refused(daphne_server):
    user = await make_user(username="path")
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(
            f"ws://{daphne_server.host}:{daphne_server.port}/ws/other/?token={await access_token(user)}"
        ):
            pass
    assert info.value.response.status_code == 403


# --- error frames ------------------------------------------------------------------------------------------


@pytest.fixture
async def socket(daphne_server):
    user = await make_user(username="framer")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}") as ws:
        yield ws


def error_of(frame):
    assert frame["event"] == "error", frame
    assert set(frame["data"]) == {"code", "message", "event", "detail"}
    return frame["data"]


async def test_error_frame_for_text_that_is_not_json(socket):
    await socket.send("this is not json")
    error = error_of(await recv_json(socket))
    assert error["code"] == 40000 and error["event"] is None
    assert (await request(socket, "ping"))["data"] == "pong"  # the socket stays open


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"ping"', "17", "null"])
async def test_error_frame_for_json_that_is_not_an_object(socket, text):
    await socket.send(text)
    assert error_of(await recv_json(socket))["code"] == 40000
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_a_chat_message_with_a_lone_surrogate(socket):
    # Valid JSON, but the channel layer (msgpack, UTF-8) could not carry it to the room.
    await request(socket, "room.join", {"room": "surrogates"})
    await socket.send('{"event": "chat.send", "data": {"room": "surrogates", "text": "a\\ud800b"}}')
    assert error_of(await recv_json(socket))["code"] == 40000
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_binary_frames(socket):
    await socket.send(b'{"event": "ping"}')
    assert error_of(await recv_json(socket))["code"] == 40000
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_a_missing_event_is_a_validation_error(socket):
    await socket.send(json.dumps({"data": {}, "id": "m1"}))
    frame = await recv_json(socket)
    error = error_of(frame)
    assert frame["id"] == "m1"
    assert error["code"] == 42200
    assert error["detail"] == [{"loc": ["event"], "msg": "Field required"}]
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_an_unknown_event(socket):
    frame = await request(socket, "no.such.event", frame_id="u1")
    assert frame["id"] == "u1"
    error = error_of(frame)
    assert error["code"] == 40400 and error["event"] == "no.such.event"
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_invalid_data(socket):
    frame = await request(socket, "room.join", {"room": "has spaces!"}, frame_id="v1")
    error = error_of(frame)
    assert frame["id"] == "v1"
    assert error["code"] == 42200 and error["event"] == "room.join"
    assert [item["loc"] for item in error["detail"]] == [["data", "room"]]
    frame = await request(socket, "chat.send", {"room": "r"}, frame_id="v2")
    assert [item["loc"] for item in error_of(frame)["detail"]] == [["data", "text"]]
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_a_missing_permission(daphne_server):
    user = await make_user(username="no-perm")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}") as ws:
        error = error_of(await request(ws, "presence.online", frame_id="perm"))
        assert error["code"] == 40300 and error["event"] == "presence.online"
        assert (await request(ws, "ping"))["data"] == "pong"
        await grant(user, "GET:/api/v1/users/online")  # takes effect on the very next frame
        frame = await request(ws, "presence.online")
        assert frame["event"] == "ack"
        assert {"user_id": str(user.pk), "username": "no-perm", "connections": 1} in frame["data"]["items"]


async def test_error_frame_for_chat_in_a_room_not_joined(socket):
    error = error_of(await request(socket, "chat.send", {"room": "elsewhere", "text": "hi"}))
    assert error["code"] == 40300
    assert (await request(socket, "ping"))["data"] == "pong"


async def test_error_frame_for_an_oversized_frame(socket, settings):
    await socket.send(json.dumps({"event": "ping", "id": "big", "data": "x" * (settings.WS_MAX_FRAME_BYTES + 1)}))
    assert error_of(await recv_json(socket))["code"] == 41300
    assert (await request(socket, "ping"))["data"] == "pong"


# --- rooms -------------------------------------------------------------------------------------------------


async def test_rooms_chat_reaches_every_member_across_connections(daphne_server):
    alice = await make_user(username="alice-room")
    bob = await make_user(username="bob-room")
    carol = await make_user(username="carol-room")
    url = daphne_server.ws_url
    async with (
        ws_connect(f"{url}?token={await access_token(alice)}") as a,
        ws_connect(f"{url}?token={await access_token(bob)}") as b,
        ws_connect(f"{url}?token={await access_token(carol)}") as c,
    ):
        assert await request(a, "room.join", {"room": "lobby"}) == {
            "event": "ack",
            "id": "1",
            "data": {"room": "lobby", "rooms": ["lobby"]},
        }
        assert (await request(b, "room.join", {"room": "lobby"}))["event"] == "ack"
        assert (await request(c, "room.join", {"room": "other"}))["event"] == "ack"

        ack = await request(a, "chat.send", {"room": "lobby", "text": "hello"}, frame_id="c1")
        messages = [ack, await recv_json(a)]
        ack_frame = next(m for m in messages if m["event"] == "ack")
        assert ack_frame == {"event": "ack", "id": "c1", "data": None}
        mine = next(m for m in messages if m["event"] == "chat.message")
        theirs = await recv_json(b)
        assert mine == theirs
        assert theirs["event"] == "chat.message"
        message = theirs["data"]
        assert message["room"] == "lobby" and message["text"] == "hello"
        assert message["user"] == {"id": str(alice.pk), "username": "alice-room"}
        assert message["sent_at"].endswith(("Z", "+00:00"))
        await assert_silent(c)  # another room hears nothing

        assert (await request(b, "room.leave", {"room": "lobby"}))["data"] == {"room": "lobby", "rooms": []}
        error = error_of(await request(b, "chat.send", {"room": "lobby", "text": "still here?"}))
        assert error["code"] == 40300
        await request(a, "chat.send", {"room": "lobby", "text": "bye"}, frame_id="c2")
        await recv_json(a)
        await assert_silent(b)


async def test_rooms_join_is_limited_per_connection(socket, settings):
    # the daphne process has the default limit
    for n in range(settings.WS_MAX_ROOMS_PER_CONNECTION):
        assert (await request(socket, "room.join", {"room": f"r{n}"}))["event"] == "ack"
    error = error_of(await request(socket, "room.join", {"room": "one-too-many"}))
    assert error["code"] == 40000


# --- pushes --------------------------------------------------------------------------------------------------


async def test_notification_reaches_every_socket_of_the_user_only(daphne_server):
    user = await make_user(username="notified")
    other = await make_user(username="not-notified")
    url = daphne_server.ws_url
    async with (
        ws_connect(f"{url}?token={await access_token(user)}") as first,
        ws_connect(f"{url}?token={await access_token(user, user_agent='second device')}") as second,
        ws_connect(f"{url}?token={await access_token(other)}") as third,
    ):
        await notify_user(user.pk, {"title": "Report ready", "id": 7})
        expected = {"event": "notification", "data": {"title": "Report ready", "id": 7}}
        assert await recv_json(first) == expected
        assert await recv_json(second) == expected
        await assert_silent(third)


async def test_notification_from_sync_code_like_a_celery_task(daphne_server):
    user = await make_user(username="sync-notified")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(user)}") as ws:
        worker = threading.Thread(target=notify_user_sync, args=(str(user.pk), {"from": "worker"}))
        worker.start()
        await asyncio.to_thread(worker.join, 10)
        assert await recv_json(ws) == {"event": "notification", "data": {"from": "worker"}}


async def test_task_run_pushes_reach_only_users_allowed_to_read_task_runs(daphne_server):
    reader = await make_user(username="run-reader")
    await grant(reader, TASK_RUNS)
    admin = await make_user(username="run-admin", is_superuser=True)
    outsider = await make_user(username="run-outsider")
    url = daphne_server.ws_url
    async with (
        ws_connect(f"{url}?token={await access_token(reader)}") as r,
        ws_connect(f"{url}?token={await access_token(admin)}") as a,
        ws_connect(f"{url}?token={await access_token(outsider)}") as o,
    ):
        run = {"task_id": "t-1", "task": "scheduler.ping", "status": "SUCCESS"}
        await task_run_push(run)
        assert await recv_json(r) == {"event": "task.run", "data": run}
        assert await recv_json(a) == {"event": "task.run", "data": run}
        await assert_silent(o)


async def test_task_run_pushes_stop_when_the_permission_is_taken_away(daphne_server):
    reader = await make_user(username="run-revoked")
    role = await grant(reader, TASK_RUNS)
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(reader)}") as ws:
        await task_run_push({"n": 1})
        assert (await recv_json(ws))["data"] == {"n": 1}
        await sync_to_async(reader.groups.remove)(role)
        await task_run_push({"n": 2})
        await notify_user(reader.pk, "after")
        assert await recv_json(ws) == {"event": "notification", "data": "after"}


# --- session revocation --------------------------------------------------------------------------------------


async def test_logout_closes_the_sockets_of_that_session_only(daphne_server, client):
    user = await make_user(username="logout-user")
    headers = await bearer_headers(user)
    token = headers["Authorization"].removeprefix("Bearer ")
    other_token = await access_token(user, user_agent="other device")
    async with (
        ws_connect(f"{daphne_server.ws_url}?token={token}") as mine,
        ws_connect(daphne_server.ws_url, subprotocols=["bearer", token]) as mine_too,
        ws_connect(f"{daphne_server.ws_url}?token={other_token}") as other,
    ):
        assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 200
        for ws in (mine, mine_too):
            assert (await recv_json(ws))["event"] == "session.revoked"
            await assert_closed_with(ws, 4401)
        assert (await request(other, "ping"))["data"] == "pong"


async def test_logout_all_closes_every_socket_of_the_user(daphne_server, client):
    user = await make_user(username="logout-all")
    bystander = await make_user(username="bystander")
    headers = await bearer_headers(user)
    async with (
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(user, user_agent='a')}") as one,
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(user, user_agent='b')}") as two,
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(bystander)}") as third,
    ):
        assert (await client.post("/api/v1/auth/logout/all", headers=headers)).status_code == 200
        for ws in (one, two):
            assert (await recv_json(ws))["event"] == "session.revoked"
            await assert_closed_with(ws, 4401)
        assert (await request(third, "ping"))["data"] == "pong"


async def test_password_change_closes_the_sockets_of_the_other_sessions(daphne_server, client):
    user = await make_user(username="pw-change", password="old-pass-1")
    headers = await bearer_headers(user)
    this_token = headers["Authorization"].removeprefix("Bearer ")
    async with (
        ws_connect(f"{daphne_server.ws_url}?token={this_token}") as this_session,
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(user, user_agent='phone')}") as other,
    ):
        key = (await client.get("/api/v1/auth/keys/public")).json()["data"]
        body = {
            "old_password": encrypt_like_webcrypto(key["public_key"], "old-pass-1", key["challenge"]),
            "new_password": encrypt_like_webcrypto(key["public_key"], "new-pass-2", key["challenge"]),
        }
        response = await client.post(
            "/api/v1/auth/password", data=json.dumps(body), content_type="application/json", headers=headers
        )
        assert response.status_code == 200, response.content
        assert (await recv_json(other))["event"] == "session.revoked"
        await assert_closed_with(other, 4401)
        assert (await request(this_session, "ping"))["data"] == "pong"


async def test_force_logout_by_an_admin_closes_every_socket_of_the_user(daphne_server, client):
    admin = await make_user(username="force-admin", is_superuser=True)
    user = await make_user(username="forced")
    async with (
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(user, user_agent='x')}") as one,
        ws_connect(daphne_server.ws_url, subprotocols=["bearer", await access_token(user, user_agent="y")]) as two,
    ):
        response = await client.post(f"/api/v1/users/{user.pk}/logout", headers=await bearer_headers(admin))
        assert response.status_code == 200, response.content
        for ws in (one, two):
            frame = await recv_json(ws)
            assert frame["event"] == "session.revoked"
            await assert_closed_with(ws, 4401)


async def test_deleting_a_session_closes_its_sockets(daphne_server, client):
    user = await make_user(username="session-delete")
    headers = await bearer_headers(user)
    doomed_token = await access_token(user, user_agent="doomed")
    async with ws_connect(f"{daphne_server.ws_url}?token={doomed_token}") as doomed:
        sessions = (await client.get("/api/v1/auth/sessions", headers=headers)).json()["data"]
        target = next(s["id"] for s in sessions if not s["current"])
        assert (await client.delete(f"/api/v1/auth/sessions/{target}", headers=headers)).status_code == 200
        assert (await recv_json(doomed))["event"] == "session.revoked"
        await assert_closed_with(doomed, 4401)


# --- presence --------------------------------------------------------------------------------------------------


async def test_online_users_lists_connection_counts(daphne_server, client):
    watcher = await make_user(username="watcher")
    await grant(watcher, "GET:/api/v1/users/online")
    ann = await make_user(username="ann-online")
    ben = await make_user(username="ben-online")
    headers = await bearer_headers(watcher)

    async def online() -> dict[str, int]:
        response = await client.get("/api/v1/users/online?page_size=100", headers=headers)
        assert response.status_code == 200, response.content
        data = response.json()["data"]
        assert data["page"] == 1 and data["page_size"] == 100
        assert data["total"] == len(data["items"])
        names = [item["username"] for item in data["items"]]
        assert names == sorted(names)
        return {item["username"]: item["connections"] for item in data["items"]}

    url = daphne_server.ws_url
    async with (
        ws_connect(f"{url}?token={await access_token(ann, user_agent='1')}"),
        ws_connect(f"{url}?token={await access_token(ann, user_agent='2')}"),
        ws_connect(f"{url}?token={await access_token(ben)}") as ben_ws,
    ):
        counts = await online()
        assert counts["ann-online"] == 2 and counts["ben-online"] == 1
        item = next(
            i
            for i in (await client.get("/api/v1/users/online", headers=headers)).json()["data"]["items"]
            if i["username"] == "ben-online"
        )
        assert item == {"user_id": str(ben.pk), "username": "ben-online", "connections": 1}
        await ben_ws.close()
        for _ in range(50):  # the server notices the close asynchronously
            if "ben-online" not in await online():
                break
            await asyncio.sleep(0.1)
        counts = await online()
        assert "ben-online" not in counts and counts["ann-online"] == 2
    for _ in range(50):
        if "ann-online" not in await online():
            break
        await asyncio.sleep(0.1)
    assert "ann-online" not in await online()


async def test_online_users_needs_the_permission(client):
    user = await make_user(username="nosy")
    response = await client.get("/api/v1/users/online", headers=await bearer_headers(user))
    assert response.status_code == 403
    assert response.json()["code"] == 40300
    assert (await client.get("/api/v1/users/online")).status_code == 401


# --- logs ----------------------------------------------------------------------------------------------------


async def test_tokens_never_reach_the_server_log(daphne_server):
    user = await make_user(username="log-check")
    token = await access_token(user)
    async with ws_connect(f"{daphne_server.ws_url}?token={token}&x=1") as ws:
        assert (await request(ws, "ping"))["data"] == "pong"
    async with ws_connect(daphne_server.ws_url, subprotocols=["bearer", token]) as ws:
        assert (await request(ws, "ping"))["data"] == "pong"
    async with ws_connect(f"{daphne_server.ws_url}?token={token}x") as ws:  # a failing one too
        await assert_closed_with(ws, 4401)
    await asyncio.sleep(0.3)
    log = daphne_server.log_text()
    assert "websocket connected" in log  # the log is really captured (DEBUG level)
    signature = token.rsplit(".", 1)[-1]
    assert token not in log and signature not in log


# --- several processes -----------------------------------------------------------------------------------------


async def test_two_server_processes_share_rooms_pushes_and_presence(daphne_server, second_daphne_server, client):
    alice = await make_user(username="alice-multi")
    bob = await make_user(username="bob-multi")
    watcher = await make_user(username="watcher-multi", is_superuser=True)
    async with (
        ws_connect(f"{daphne_server.ws_url}?token={await access_token(alice)}") as a,
        ws_connect(f"{second_daphne_server.ws_url}?token={await access_token(bob)}") as b,
        ws_connect(f"{second_daphne_server.ws_url}?token={await access_token(alice, user_agent='2')}") as a2,
    ):
        for ws in (a, b):
            assert (await request(ws, "room.join", {"room": "across"}))["event"] == "ack"
        await request(b, "chat.send", {"room": "across", "text": "from the other process"}, frame_id="x")
        await recv_json(b)  # b's own copy
        message = await recv_json(a)
        assert message["event"] == "chat.message"
        assert message["data"]["user"]["username"] == "bob-multi"

        await notify_user(alice.pk, {"n": 1})
        assert await recv_json(a) == {"event": "notification", "data": {"n": 1}}
        assert await recv_json(a2) == {"event": "notification", "data": {"n": 1}}

        response = await client.get("/api/v1/users/online?page_size=100", headers=await bearer_headers(watcher))
        counts = {i["username"]: i["connections"] for i in response.json()["data"]["items"]}
        assert counts["alice-multi"] == 2 and counts["bob-multi"] == 1


async def test_session_ended_sent_from_sync_code_closes_the_sockets(daphne_server):
    """A plain `send` from sync code (a worker, a management command) reaches the sockets too."""
    from apps.accounts.signals import session_ended
    from apps.accounts.tokens import decode_token

    user = await make_user(username="sync-signal")
    token = await access_token(user)
    sid = decode_token(token, typ="access").sid
    async with ws_connect(f"{daphne_server.ws_url}?token={token}") as ws:
        worker = threading.Thread(
            target=session_ended.send,
            kwargs={"sender": None, "user_id": str(user.pk), "session_ids": [sid], "reason": "test"},
        )
        worker.start()
        await asyncio.to_thread(worker.join, 10)
        assert await recv_json(ws) == {"event": "session.revoked", "data": {"reason": "test"}}
        await assert_closed_with(ws, 4401)
