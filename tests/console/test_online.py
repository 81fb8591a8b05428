"""The online-users admin page against real Redis: live sessions listed, kick per session and per user."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import AsyncClient

from apps.accounts.models import User
from apps.accounts.sessions import sessions_of
from apps.console.online import session_handle
from apps.core.exceptions import ErrorCode
from tests.factories import UserFactory
from tests.helpers import grant, tokens_for
from tests.realtime.conftest import (
    Server,
    assert_closed_with,
    database_url_of_test_db,
    recv_json,
    request,
    start_daphne,
    stop_daphne,
    ws_connect,
)

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/console/onlineuser/"
KICK = "/admin/console/onlineuser/kick/"
VIEW_CODE = "GET:/api/v1/users/online"
KICK_CODE = "POST:/api/v1/users/{user_id}/logout"


async def _user(**kwargs: Any) -> User:
    return await sync_to_async(UserFactory.create)(**kwargs)


async def _staff_with(username: str, *, view: bool, kick: bool) -> User:
    """Staff whose role grants the page's API codes and the admin permissions they map to."""
    user = await _user(username=username, is_staff=True)
    codes = [code for code, wanted in ((VIEW_CODE, view), (KICK_CODE, kick)) if wanted] or ["GET:/api/v1/files"]
    role = await grant(user, *codes)
    perms = [name for name, wanted in (("view_onlineuser", view), ("kick_onlineuser", kick)) if wanted]

    def add() -> None:
        role.permissions.add(*Permission.objects.filter(content_type__app_label="console", codename__in=perms))

    await sync_to_async(add)()
    return user


async def _admin_client(user: User, **kwargs: Any) -> AsyncClient:
    client = AsyncClient(**kwargs)
    await client.aforce_login(user)
    return client


async def _user_info_code(client: AsyncClient, access_token: str) -> int:
    response = await client.get("/api/v1/auth/user/info", headers={"Authorization": f"Bearer {access_token}"})
    return int(response.json()["code"])


@pytest.fixture(scope="module")
def daphne_server(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real daphne serving the websockets, sharing this run's database and Redis."""
    log_path = tmp_path_factory.mktemp("daphne-console") / "daphne.log"
    server = start_daphne({"DATABASE_URL": database_url_of_test_db(), "LOG_LEVEL": "INFO"}, log_path)
    yield server
    stop_daphne(server)


@pytest.fixture
async def root() -> User:
    return await _user(username="online-root", is_superuser=True, is_staff=True)


@pytest.fixture
async def alice() -> User:
    return await _user(username="online-alice")


async def test_page_lists_users_with_live_sessions_and_their_clients(root: User, alice: User) -> None:
    first = await tokens_for(alice, user_agent="Firefox/140 alice-laptop", ip="10.0.0.7")
    second = await tokens_for(alice, user_agent="okhttp/4 alice-phone", ip="10.0.0.8")
    await _user(username="online-nobody")  # no session: not listed
    client = await _admin_client(root)
    response = await client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "online-alice" in html
    assert "online-nobody" not in html
    for agent, ip in (("Firefox/140 alice-laptop", "10.0.0.7"), ("okhttp/4 alice-phone", "10.0.0.8")):
        assert agent in html
        assert ip in html
    handles = set(re.findall(r'data-kick-session="([0-9a-f]+)"', html))
    assert len(handles) == 2
    assert f'data-kick-user="{alice.pk}"' in html
    # Session ids are inside the tokens: the page names sessions by a digest, never by the id.
    for pair in (first, second):
        assert pair.access_token not in html
    assert "<time datetime=" in html  # created / last seen


async def test_kicking_one_session_revokes_its_tokens_only(root: User, alice: User) -> None:
    kicked = await tokens_for(alice, user_agent="kicked-client")
    kept = await tokens_for(alice, user_agent="kept-client")
    client = await _admin_client(root)
    html = (await client.get(LIST)).content.decode()
    match = re.search(r'<tr class="online-session-row" data-session="([0-9a-f]+)">.*?kicked-client', html, re.S)
    assert match is not None
    handle = match.group(1)

    confirm = await client.get(KICK, {"user": str(alice.pk), "session": handle})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert 'id="kick-confirm"' in page and "kicked-client" in page and "kept-client" not in page
    assert await _user_info_code(client, kicked.access_token) == ErrorCode.OK  # nothing ended by looking

    response = await client.post(KICK, {"user": str(alice.pk), "session": handle}, follow=True)
    assert response.status_code == 200
    assert "Ended one session of online-alice." in response.content.decode()
    assert await _user_info_code(client, kicked.access_token) == ErrorCode.SESSION_REVOKED
    assert await _user_info_code(client, kept.access_token) == ErrorCode.OK
    entry = await LogEntry.objects.filter(object_id=str(alice.pk)).afirst()
    assert entry is not None and handle in entry.change_message

    again = await client.post(KICK, {"user": str(alice.pk), "session": handle}, follow=True)
    assert "That session has already ended" in again.content.decode()
    assert await _user_info_code(client, kept.access_token) == ErrorCode.OK


async def test_kicking_the_user_revokes_every_session(root: User, alice: User) -> None:
    pairs = [await tokens_for(alice, user_agent=f"client-{n}") for n in range(3)]
    bob = await _user(username="online-bob")
    bobs = await tokens_for(bob)
    client = await _admin_client(root)
    confirm = (await client.get(KICK, {"user": str(alice.pk)})).content.decode()
    assert all(f"client-{n}" in confirm for n in range(3))
    response = await client.post(KICK, {"user": str(alice.pk)}, follow=True)
    assert "Ended 3 session(s) of online-alice." in response.content.decode()
    for pair in pairs:
        assert await _user_info_code(client, pair.access_token) == ErrorCode.SESSION_REVOKED
    assert await _user_info_code(client, bobs.access_token) == ErrorCode.OK
    assert "online-alice" not in (await client.get(LIST)).content.decode()


async def test_kicking_a_session_closes_its_websocket(root: User, alice: User, daphne_server: Server) -> None:
    pair = await tokens_for(alice, user_agent="ws-client")
    client = await _admin_client(root)
    async with ws_connect(f"{daphne_server.ws_url}?token={pair.access_token}") as ws:
        assert (await request(ws, "ping"))["data"] == "pong"  # connected, so its presence is written
        html = (await client.get(LIST)).content.decode()
        assert 'data-connections="1"' in html  # the open socket shows on the page
        response = await client.post(KICK, {"user": str(alice.pk), "session": session_handle_of(html)})
        assert response.status_code == 302
        assert (await recv_json(ws))["event"] == "session.revoked"
        await assert_closed_with(ws, 4401)


def session_handle_of(html: str) -> str:
    handles = re.findall(r'data-kick-session="([0-9a-f]+)"', html)
    assert len(handles) == 1, handles
    return handles[0]


async def test_users_without_the_view_permission_are_refused(alice: User) -> None:
    pair = await tokens_for(alice)
    outsider = await _staff_with("online-outsider", view=False, kick=False)
    client = await _admin_client(outsider)
    assert (await client.get(LIST)).status_code == 403
    assert (await client.get(KICK, {"user": str(alice.pk)})).status_code == 403
    assert (await client.post(KICK, {"user": str(alice.pk)})).status_code == 403
    assert await _user_info_code(client, pair.access_token) == ErrorCode.OK
    index = (await client.get("/admin/")).content.decode()
    assert LIST not in index


async def test_viewers_without_the_kick_permission_see_no_kick_and_cannot_kick(alice: User) -> None:
    pair = await tokens_for(alice)
    viewer = await _staff_with("online-viewer", view=True, kick=False)
    client = await _admin_client(viewer)
    response = await client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "online-alice" in html
    assert "data-kick-session" not in html and "data-kick-user" not in html
    (session,) = await sessions_of(str(alice.pk))
    handle = session_handle(session.id)
    assert (await client.post(KICK, {"user": str(alice.pk), "session": handle})).status_code == 403
    assert (await client.post(KICK, {"user": str(alice.pk)})).status_code == 403
    assert await _user_info_code(client, pair.access_token) == ErrorCode.OK


async def test_operators_with_the_kick_permission_can_kick(alice: User) -> None:
    pair = await tokens_for(alice)
    operator = await _staff_with("online-operator", view=True, kick=True)
    client = await _admin_client(operator)
    assert f'data-kick-user="{alice.pk}"' in (await client.get(LIST)).content.decode()
    response = await client.post(KICK, {"user": str(alice.pk)})
    assert response.status_code == 302
    assert await _user_info_code(client, pair.access_token) == ErrorCode.SESSION_REVOKED


async def test_a_non_superuser_cannot_kick_a_superuser(root: User) -> None:
    pair = await tokens_for(root, user_agent="root-client")
    operator = await _staff_with("online-operator2", view=True, kick=True)
    client = await _admin_client(operator)
    html = (await client.get(LIST)).content.decode()
    assert "online-root" in html  # listed ...
    assert f'data-kick-user="{root.pk}"' not in html and "data-kick-session" not in html  # ... but not kickable
    response = await client.post(KICK, {"user": str(root.pk)}, follow=True)
    assert "Only superusers can end the sessions of a superuser" in response.content.decode()
    confirm = await client.get(KICK, {"user": str(root.pk)}, follow=True)
    assert 'id="kick-confirm"' not in confirm.content.decode()
    assert await _user_info_code(client, pair.access_token) == ErrorCode.OK


async def test_kicking_needs_the_csrf_token(root: User, alice: User) -> None:
    pair = await tokens_for(alice)
    client = await _admin_client(root, enforce_csrf_checks=True)
    refused = await client.post(KICK, {"user": str(alice.pk)})
    assert refused.status_code == 403
    assert await _user_info_code(client, pair.access_token) == ErrorCode.OK
    confirm = (await client.get(KICK, {"user": str(alice.pk)})).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', confirm)
    assert token is not None
    accepted = await client.post(KICK, {"user": str(alice.pk), "csrfmiddlewaretoken": token.group(1)})
    assert accepted.status_code == 302
    assert await _user_info_code(client, pair.access_token) == ErrorCode.SESSION_REVOKED


@pytest.mark.parametrize("page", ["99999999999999999999", "0", "-1", "abc", "1e3", "x" * 5000])
async def test_bad_page_numbers_get_a_message_not_an_error(root: User, alice: User, page: str) -> None:
    await tokens_for(alice)
    client = await _admin_client(root)
    response = await client.get(LIST, {"p": page})
    assert response.status_code == 200
    assert "The page must be a whole number" in response.content.decode()
    assert "online-alice" in response.content.decode()  # the first page instead


async def test_search_filters_and_is_bounded(root: User, alice: User) -> None:
    await tokens_for(alice)
    bob = await _user(username="online-bob")
    await tokens_for(bob)
    client = await _admin_client(root)
    html = (await client.get(LIST, {"q": "ALICE"})).content.decode()
    assert "online-alice" in html and "online-bob" not in html
    assert (await client.get(LIST, {"q": "a" * 100_000})).status_code == 200
    html = (await client.get(LIST, {"p": "2"})).content.decode()
    assert "There are only 1 page(s)." in html


@pytest.mark.parametrize(
    "params",
    [{"user": "not-a-uuid"}, {"user": ""}, {"user": "0190a0a0-0000-7000-8000-000000000000"}, {"user": "x" * 10_000}],
)
async def test_kicking_an_unknown_user_is_a_message(root: User, params: dict[str, str]) -> None:
    client = await _admin_client(root)
    for response in (await client.get(KICK, params, follow=True), await client.post(KICK, params, follow=True)):
        assert response.status_code == 200
        assert "No such user" in response.content.decode()


async def test_an_unknown_session_handle_ends_nothing(root: User, alice: User) -> None:
    pair = await tokens_for(alice)
    client = await _admin_client(root)
    confirm = await client.get(KICK, {"user": str(alice.pk), "session": "0" * 16}, follow=True)
    assert "That session has already ended" in confirm.content.decode()
    response = await client.post(KICK, {"user": str(alice.pk), "session": "0" * 16}, follow=True)
    assert "That session has already ended" in response.content.decode()
    assert await _user_info_code(client, pair.access_token) == ErrorCode.OK
