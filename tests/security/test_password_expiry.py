"""Password expiry: login answers 40110 with a ticket, POST /auth/password/expired sets a new one and signs in."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from apps.security.models import PasswordHistory
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import encrypt_like_webcrypto, login

pytestmark = pytest.mark.django_db(transaction=True)


def _aged(username, days, **extra):
    user = UserFactory(username=username, password="aged-pass-1", **extra)
    PasswordHistory.objects.filter(user=user).update(created_at=timezone.now() - timedelta(days=days))
    return user


async def _change(client, ticket, new):
    key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    return await client.post(
        "/api/v1/auth/password/expired",
        data=json.dumps(
            {
                "password_change_token": ticket,
                "new_password": encrypt_like_webcrypto(key["public_key"], new, key["challenge"]),
            }
        ),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )


async def test_expired_password_must_be_changed_at_sign_in(client, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 90
    await sync_to_async(_aged)("aged", 91)
    response = await login(client, "aged", "aged-pass-1")
    body = envelope_of(response)
    assert response.status_code == 401 and body["code"] == 40110
    ticket = body["data"]["password_change_token"]
    weak = await _change(client, ticket, "short")
    assert weak.status_code == 422 and envelope_of(weak)["data"][0]["loc"] == ["body", "new_password"]
    same = await _change(client, ticket, "aged-pass-1")  # the history refuses the current one
    assert same.status_code == 422
    done = await _change(client, ticket, "Renewed-pass-2")
    assert done.status_code == 200 and envelope_of(done)["data"]["token_type"] == "Bearer"
    assert envelope_of(await _change(client, ticket, "Other-pass-3"))["code"] == 40105  # single use
    assert (await login(client, "aged", "Renewed-pass-2")).status_code == 200  # fresh again


async def test_fresh_passwords_and_expiry_off(client, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 90
    await sync_to_async(_aged)("young", 10)
    assert (await login(client, "young", "aged-pass-1")).status_code == 200
    settings.PASSWORD_MAX_AGE_DAYS = 0
    await sync_to_async(_aged)("ancient", 4000)
    assert (await login(client, "ancient", "aged-pass-1")).status_code == 200


async def test_expired_ticket_is_not_a_second_factor_ticket(client, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 1
    await sync_to_async(_aged)("mixup", 5)
    ticket = envelope_of(await login(client, "mixup", "aged-pass-1"))["data"]["password_change_token"]
    response = await client.post(
        "/api/v1/auth/login/2fa",
        data=json.dumps({"two_factor_token": ticket, "code": "123456"}),
        content_type="application/json",
    )
    assert envelope_of(response)["code"] == 40105


def test_admin_sign_in_refuses_an_expired_password(settings):
    settings.PASSWORD_MAX_AGE_DAYS = 30
    _aged("agedstaff", 31, is_staff=True)
    response = Client().post("/admin/login/?next=/admin/", {"username": "agedstaff", "password": "aged-pass-1"})
    assert response.status_code == 200 and b"Your password expired" in response.content
