"""Password policy: length, classes and history on every path that sets a password."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from apps.accounts.models import User
from apps.security.models import PasswordHistory
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import encrypt_like_webcrypto, tokens_for

pytestmark = pytest.mark.django_db(transaction=True)


def _codes(password, user=None):
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


def test_policy_length_and_classes():
    assert "password_too_short" in _codes("Ab1-x")
    assert "password_too_simple" in _codes("alllowercase")
    assert _codes("lower-and-symbols") == set()
    assert _codes("Mixed1Case") == set()


def test_policy_limits_come_from_settings(settings):
    settings.PASSWORD_MIN_LENGTH, settings.PASSWORD_MIN_CLASSES = 14, 4
    assert _codes("Aa1-short") == {"password_too_short"}
    assert _codes("Aa1aaaaaaaaaaaaa") == {"password_too_simple"}
    assert _codes("Aa1-aaaaaaaaaaaa") == set()


def test_history_records_every_saved_password_and_refuses_the_last_n(settings):
    settings.PASSWORD_HISTORY_COUNT = 3
    user = UserFactory(username="hist", password="first-pass-1")
    for password in ("second-pass-2", "third-pass-3", "fourth-pass-4"):
        validate_password(password, user)
        user.set_password(password)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 3  # trimmed to the last N
    assert "password_reused" in _codes("fourth-pass-4", user)  # the current one
    assert "password_reused" in _codes("second-pass-2", user)
    assert _codes("first-pass-1", user) == set()  # fell out of the last three


def test_current_password_counts_without_history():
    user = UserFactory(username="old")
    PasswordHistory.objects.filter(user=user).delete()
    assert "password_reused" in _codes("pass-1234", user)


async def _sealed(client, *passwords):
    key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    return [encrypt_like_webcrypto(key["public_key"], p, key["challenge"]) for p in passwords]


async def test_api_password_change_refuses_a_reused_password(client):
    user = await sync_to_async(UserFactory.create)(username="reuser", password="reuse-pass-1")
    pair = await tokens_for(user)
    old, new = await _sealed(client, "reuse-pass-1", "reuse-pass-1")
    response = await client.post(
        "/api/v1/auth/password",
        data=json.dumps({"old_password": old, "new_password": new}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {pair.access_token}", "User-Agent": "pytest"},
    )
    body = envelope_of(response)
    assert response.status_code == 422 and body["code"] == 42200
    assert body["data"][0]["loc"] == ["body", "new_password"]


async def test_api_user_create_and_update_apply_the_policy(client, admin_user):
    pair = await tokens_for(admin_user)
    headers = {"Authorization": f"Bearer {pair.access_token}", "User-Agent": "pytest"}
    (weak,) = await _sealed(client, "abcdefghij")
    response = await client.post(
        "/api/v1/users",
        data=json.dumps({"username": "weakling", "password": weak}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 422 and envelope_of(response)["data"][0]["loc"] == ["body", "password"]
    (good,) = await _sealed(client, "Strong-pass-1")
    response = await client.post(
        "/api/v1/users",
        data=json.dumps({"username": "strong", "password": good}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    user_id = envelope_of(response)["data"]["id"]
    assert await PasswordHistory.objects.filter(user_id=user_id).acount() == 1
    (same,) = await _sealed(client, "Strong-pass-1")
    response = await client.patch(
        f"/api/v1/users/{user_id}",
        data=json.dumps({"password": same}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 422 and envelope_of(response)["code"] == 42200


def test_admin_password_form_applies_the_policy():
    root = UserFactory(username="rootadm", is_superuser=True, is_staff=True)
    bob = UserFactory(username="bobpw", password="bob-pass-11")
    browser = Client()
    browser.force_login(root)
    url = f"/admin/accounts/user/{bob.pk}/password/"
    for weak in ("short1", "onlyletterslong", "bob-pass-11"):
        response = browser.post(url, {"password1": weak, "password2": weak, "usable_password": "true"})
        assert response.status_code == 200, weak  # the form again, with errors
    assert User.objects.get(pk=bob.pk).check_password("bob-pass-11")
    new = "Bob-new-pass-2"
    response = browser.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302
    assert PasswordHistory.objects.filter(user=bob).count() == 2


def test_admin_add_user_form_applies_the_policy():
    root = UserFactory(username="rootadd", is_superuser=True, is_staff=True)
    browser = Client()
    browser.force_login(root)
    data = {"username": "newbie", "email": "", "full_name": "", "password1": "simple", "password2": "simple"}
    assert browser.post("/admin/accounts/user/add/", data).status_code == 200
    assert not User.objects.filter(username="newbie").exists()


def test_initdb_holds_admin_password_to_the_policy(settings):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "boss2", "weakpass"
    settings.ADMIN_PASSWORD_POLICY_EXEMPT = "123456"
    with pytest.raises(CommandError, match="password policy"):
        call_command("initdb", stdout=StringIO())
    assert not User.objects.filter(username="boss2").exists()
    settings.ADMIN_PASSWORD = "123456"  # the contract's DEBUG default stays usable
    call_command("initdb", stdout=StringIO())
    assert User.objects.get(username="boss2").check_password("123456")
