"""Refresh rotation, reuse detection, and sessions ending at once everywhere they should."""

import json

import jwt
import pytest
from django.conf import settings

from apps.accounts.signals import session_ended
from tests.conftest import envelope_of
from tests.helpers import encrypt_like_webcrypto, login, tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

INFO = "/api/v1/auth/user/info"


def _auth(token, user_agent="pytest"):
    return {"Authorization": f"Bearer {token}", "User-Agent": user_agent}


async def _refresh(client, refresh_token, user_agent="pytest"):
    return await client.post(
        "/api/v1/auth/token/refresh",
        data=json.dumps({"refresh_token": refresh_token}),
        content_type="application/json",
        headers={"User-Agent": user_agent},
    )


async def _code(client, token):
    response = await client.get(INFO, headers=_auth(token))
    return envelope_of(response)["code"]


async def test_refresh_rotates_and_keeps_the_session_id(client, alice):
    pair = await tokens_for(alice)
    response = await _refresh(client, pair.refresh_token)
    assert response.status_code == 200
    rotated = envelope_of(response)["data"]
    assert rotated["refresh_token"] != pair.refresh_token
    old_sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    new_sid = jwt.decode(rotated["access_token"], options={"verify_signature": False})["sid"]
    assert old_sid == new_sid
    assert await _code(client, rotated["access_token"]) == 0


async def test_reused_refresh_token_ends_the_whole_session(client, alice):
    pair = await tokens_for(alice)
    rotated = envelope_of(await _refresh(client, pair.refresh_token))["data"]
    reuse = await _refresh(client, pair.refresh_token)
    assert reuse.status_code == 401
    assert envelope_of(reuse)["code"] == 40103
    # Both the thief's and the owner's tokens of that session are now dead.
    assert await _code(client, rotated["access_token"]) == 40103
    assert envelope_of(await _refresh(client, rotated["refresh_token"]))["code"] == 40103


async def test_refresh_from_another_user_agent_is_40102(client, alice):
    pair = await tokens_for(alice, user_agent="Browser A")
    response = await _refresh(client, pair.refresh_token, user_agent="Browser B")
    assert envelope_of(response)["code"] == 40102
    assert (await _refresh(client, pair.refresh_token, user_agent="Browser A")).status_code == 200


async def test_logout_rejects_the_access_token_at_once(client, alice):
    pair = await tokens_for(alice)
    response = await client.post("/api/v1/auth/logout", headers=_auth(pair.access_token))
    assert envelope_of(response) == {"code": 0, "message": "OK", "data": None}
    assert await _code(client, pair.access_token) == 40103
    assert envelope_of(await _refresh(client, pair.refresh_token))["code"] == 40103


async def test_logout_all_ends_every_session(client, alice):
    first, second = await tokens_for(alice), await tokens_for(alice)
    await client.post("/api/v1/auth/logout/all", headers=_auth(first.access_token))
    assert await _code(client, first.access_token) == 40103
    assert await _code(client, second.access_token) == 40103


async def test_session_list_marks_the_current_one(client, alice):
    first = await tokens_for(alice, user_agent="Phone")
    second = await tokens_for(alice, user_agent="Laptop")
    response = await client.get("/api/v1/auth/sessions", headers=_auth(second.access_token, "Laptop"))
    sessions = envelope_of(response)["data"]
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1 and current[0]["user_agent"] == "Laptop"
    assert current[0]["id"] == jwt.decode(second.access_token, options={"verify_signature": False})["sid"]
    assert {s["user_agent"] for s in sessions} == {"Phone", "Laptop"}
    assert all(s["ip"] == "127.0.0.1" and s["created_at"] and s["last_seen_at"] for s in sessions)
    del first


async def test_deleting_an_own_session_ends_it(client, alice):
    phone = await tokens_for(alice, user_agent="Phone")
    laptop = await tokens_for(alice, user_agent="Laptop")
    phone_sid = jwt.decode(phone.access_token, options={"verify_signature": False})["sid"]
    response = await client.delete(f"/api/v1/auth/sessions/{phone_sid}", headers=_auth(laptop.access_token))
    assert response.status_code == 200
    assert await _code(client, phone.access_token) == 40103
    assert await _code(client, laptop.access_token) == 0


async def test_deleting_someone_elses_session_is_404(client, alice, admin_user):
    theirs = await tokens_for(admin_user)
    mine = await tokens_for(alice)
    sid = jwt.decode(theirs.access_token, options={"verify_signature": False})["sid"]
    response = await client.delete(f"/api/v1/auth/sessions/{sid}", headers=_auth(mine.access_token))
    assert envelope_of(response)["code"] == 40400
    assert await _code(client, theirs.access_token) == 0


async def _sealed_pair(client, old, new):
    key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    return {
        "old_password": encrypt_like_webcrypto(key["public_key"], old, key["challenge"]),
        "new_password": encrypt_like_webcrypto(key["public_key"], new, key["challenge"]),
    }


async def test_password_change_ends_other_sessions_and_keeps_this_one(client, alice):
    other = await tokens_for(alice)
    this = await tokens_for(alice)
    body = await _sealed_pair(client, "alice-pass-1", "brand-new-pass-9")
    response = await client.post(
        "/api/v1/auth/password",
        data=json.dumps(body),
        content_type="application/json",
        headers=_auth(this.access_token),
    )
    assert envelope_of(response)["code"] == 0
    assert await _code(client, other.access_token) == 40103
    assert await _code(client, this.access_token) == 0
    assert (await login(client, "alice", "brand-new-pass-9")).status_code == 200
    assert envelope_of(await login(client, "alice", "alice-pass-1"))["code"] == 40104


async def test_password_change_with_wrong_old_password_is_40104(client, alice):
    this = await tokens_for(alice)
    body = await _sealed_pair(client, "not-it", "brand-new-pass-9")
    response = await client.post(
        "/api/v1/auth/password",
        data=json.dumps(body),
        content_type="application/json",
        headers=_auth(this.access_token),
    )
    assert envelope_of(response)["code"] == 40104


async def test_password_change_challenge_is_single_use(client, alice):
    this = await tokens_for(alice)
    body = await _sealed_pair(client, "alice-pass-1", "brand-new-pass-9")
    headers = _auth(this.access_token)
    first = await client.post(
        "/api/v1/auth/password", data=json.dumps(body), content_type="application/json", headers=headers
    )
    assert envelope_of(first)["code"] == 0
    again = await client.post(
        "/api/v1/auth/password", data=json.dumps(body), content_type="application/json", headers=headers
    )
    assert envelope_of(again)["code"] == 40105


async def test_weak_new_password_is_42200(client, alice):
    this = await tokens_for(alice)
    body = await _sealed_pair(client, "alice-pass-1", "123")
    response = await client.post(
        "/api/v1/auth/password",
        data=json.dumps(body),
        content_type="application/json",
        headers=_auth(this.access_token),
    )
    assert response.status_code == 422
    assert envelope_of(response)["data"][0]["loc"] == ["body", "new_password"]


async def test_deactivation_rejects_tokens_at_once(client, alice):
    pair = await tokens_for(alice)
    assert await _code(client, pair.access_token) == 0
    alice.is_active = False
    await alice.asave()
    assert await _code(client, pair.access_token) == 40103
    assert envelope_of(await _refresh(client, pair.refresh_token))["code"] == 40103


async def test_every_session_end_is_published(client, alice):
    ended = []

    def receiver(sender, **kwargs):
        ended.append((kwargs["reason"], tuple(kwargs["session_ids"])))

    session_ended.connect(receiver)
    try:
        pair = await tokens_for(alice)
        sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
        await client.post("/api/v1/auth/logout", headers=_auth(pair.access_token))
    finally:
        session_ended.disconnect(receiver)
    assert ended == [("logout", (sid,))]


async def test_user_info_lists_roles_and_permissions(client, alice):
    from tests.helpers import grant

    await grant(alice, "GET:/api/v1/permissions", name="viewer")
    pair = await tokens_for(alice)
    data = envelope_of(await client.get(INFO, headers=_auth(pair.access_token)))["data"]
    assert data["id"] == str(alice.pk)
    assert data["username"] == "alice" and data["email"] == "alice@example.com"
    assert data["is_superuser"] is False
    assert [r["name"] for r in data["roles"]] == ["viewer"]
    assert data["permissions"] == ["GET:/api/v1/permissions"]


async def test_refresh_keeps_the_users_session_index_alive(client, alice):
    from apps.accounts.sessions import sessions_of, user_sessions_key
    from apps.core.redis import async_redis

    pair = await tokens_for(alice)
    index = user_sessions_key(str(alice.pk))
    await async_redis().expire(index, 2)  # as if the session had been refreshed for most of its life
    rotated = envelope_of(await _refresh(client, pair.refresh_token))["data"]
    assert await async_redis().ttl(index) > settings.REFRESH_TOKEN_TTL - 60
    await async_redis().delete(index)  # even an index already gone is rebuilt by the next refresh
    rotated = envelope_of(await _refresh(client, rotated["refresh_token"]))["data"]
    assert await async_redis().ttl(index) > settings.REFRESH_TOKEN_TTL - 60
    assert [s.id for s in await sessions_of(str(alice.pk))]
    # So logout-all still finds and ends it.
    await client.post("/api/v1/auth/logout/all", headers=_auth(rotated["access_token"]))
    assert await _code(client, rotated["access_token"]) == 40103
