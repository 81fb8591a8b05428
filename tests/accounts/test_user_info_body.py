"""GET /auth/user/info is rendered once per cached authorization state, and never outlives it."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from apps.accounts import selectors
from apps.accounts.auth import authenticate_token
from apps.accounts.authz import global_version_key, known_states, state_key, user_version_key
from apps.accounts.models import ApiPermission
from apps.accounts.schemas import UserInfoOut
from apps.core.envelope import render_body
from apps.core.redis import async_redis
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant

pytestmark = pytest.mark.django_db(transaction=True)

INFO = "/api/v1/auth/user/info"


async def _info(client, headers):
    response = await client.get(INFO, headers=headers)
    assert response.status_code == 200
    return response


async def test_the_body_is_what_ninja_renders_from_the_dict(client):
    holder = await sync_to_async(UserFactory.create)(username="holder", email="h@example.com", full_name="H Older")
    await grant(holder, "GET:/api/v1/roles", "GET:/api/v1/users", name="lister")
    headers = await bearer_headers(holder)
    first = await _info(client, headers)
    second = await _info(client, headers)
    assert first.content == second.content
    assert first["Content-Type"] == "application/json; charset=utf-8"
    context = await authenticate_token(headers["Authorization"].removeprefix("Bearer "))
    expected = render_body(UserInfoOut.model_validate(await selectors.user_info(context=context)).model_dump())
    assert second.content.decode() == expected
    data = envelope_of(second)["data"]
    assert data["username"] == "holder" and data["email"] == "h@example.com" and data["full_name"] == "H Older"
    assert data["permissions"] == ["GET:/api/v1/roles", "GET:/api/v1/users"]
    assert [role["name"] for role in data["roles"]] == ["lister"]


async def test_a_request_reusing_the_state_reuses_the_body(client, monkeypatch):
    holder = await sync_to_async(UserFactory.create)(username="holder")
    await grant(holder, "GET:/api/v1/roles", name="lister")
    headers = await bearer_headers(holder)
    first = await _info(client, headers)
    assert known_states._states[str(holder.pk)].rendered["user_info"] == first.content.decode()

    async def not_again(**kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(selectors, "user_info", not_again)
    assert (await _info(client, headers)).content == first.content


async def test_a_granted_permission_and_an_edited_profile_show_on_the_next_request(client):
    holder = await sync_to_async(UserFactory.create)(username="holder", email="old@example.com")
    role = await grant(holder, "GET:/api/v1/roles", name="lister")
    headers = await bearer_headers(holder)
    assert envelope_of(await _info(client, headers))["data"]["permissions"] == ["GET:/api/v1/roles"]

    added = await Permission.objects.aget(codename="GET:/api/v1/users")
    await sync_to_async(role.permissions.add)(added)
    assert envelope_of(await _info(client, headers))["data"]["permissions"] == [
        "GET:/api/v1/roles",
        "GET:/api/v1/users",
    ]

    holder.email = "new@example.com"
    holder.full_name = "Renamed"
    await holder.asave()
    data = envelope_of(await _info(client, headers))["data"]
    assert (data["email"], data["full_name"]) == ("new@example.com", "Renamed")


async def test_a_superuser_sees_a_new_permission_of_the_catalogue(client, admin_user):
    headers = await bearer_headers(admin_user)
    before = envelope_of(await _info(client, headers))["data"]["permissions"]
    assert "GET:/api/v1/health" not in before  # public: not a permission

    content_type = await sync_to_async(ContentType.objects.get_for_model)(ApiPermission, for_concrete_model=False)
    await Permission.objects.acreate(codename="GET:/api/v1/brand-new", name="brand new", content_type=content_type)
    after = envelope_of(await _info(client, headers))["data"]["permissions"]
    assert after == sorted([*before, "GET:/api/v1/brand-new"])


async def test_after_redis_lost_the_versions_the_body_is_rebuilt_and_not_kept(client):
    holder = await sync_to_async(UserFactory.create)(username="holder", email="kept@example.com")
    await grant(holder, "GET:/api/v1/roles", name="lister")
    headers = await bearer_headers(holder)
    await _info(client, headers)
    # What Redis losing its data looks like to the auth class: no versions (so "0") and no cached state (the
    # session is kept, so the token stays valid).
    await async_redis().delete(global_version_key(), user_version_key(str(holder.pk)), state_key(str(holder.pk)))

    await type(holder).objects.filter(pk=holder.pk).aupdate(email="changed@example.com")  # no signal: no bump
    response = await _info(client, headers)
    assert envelope_of(response)["data"]["email"] == "changed@example.com"  # recomputed, not the old body
    assert "user_info" not in known_states._states[str(holder.pk)].rendered
