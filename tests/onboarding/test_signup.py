"""Self sign-up: off by default; when on, an inactive account and a verification link (real SMTP) that
activates it once; an address that has an account gets a notice and the caller the same answer."""

from datetime import timedelta
from typing import cast

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.onboarding.models import OneTimeToken
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import login
from tests.mail.support import token_of, unique_address
from tests.onboarding.conftest import post, sealed, wait_login_event

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Signup-pass-2026"


async def _signup(client, email: str, username: str | None = None):
    body = {"username": username or email.split("@")[0], "email": email, "password": await sealed(client, PASSWORD)}
    return await post(client, "/auth/signup", body)


async def test_signup_is_off_by_default(client, settings):
    assert settings.SIGNUP_ENABLED is False
    response = await _signup(client, unique_address("off"))
    assert (response.status_code, envelope_of(response)["code"]) == (404, 40400)


async def test_signup_verification_activates_the_account_once(client, settings, mail_worker, smtp_up):
    settings.SIGNUP_ENABLED = True
    role = await sync_to_async(Role.objects.create)(name="signed-up")
    settings.SIGNUP_DEFAULT_ROLES = ["signed-up"]
    email = unique_address("new")
    response = await _signup(client, email)
    assert (response.status_code, envelope_of(response)) == (200, {"code": 0, "message": "OK", "data": None})
    user = await User.objects.aget(email=email)
    assert not user.is_active
    assert envelope_of(await login(client, user.username, PASSWORD))["code"] == 40104  # not before verifying

    (message,) = await sync_to_async(smtp_up.wait_for)(email)
    assert message["Subject"] == "Confirm your e-mail address"
    token = token_of(message)
    verified = await post(client, "/auth/signup/verify", {"token": token})
    assert (verified.status_code, envelope_of(verified)["code"]) == (200, 0)
    user = await User.objects.aget(pk=user.pk)
    assert user.is_active
    assert [g async for g in user.groups.values_list("pk", flat=True)] == [role.pk]
    assert envelope_of(await login(client, user.username, PASSWORD))["code"] == 0
    await wait_login_event(event="email_verified", user_id=str(user.pk), success=True)

    again = await post(client, "/auth/signup/verify", {"token": token})
    assert (again.status_code, envelope_of(again)["code"]) == (400, 40001)


async def test_expired_verification_link_is_refused(client, settings, mail_worker, smtp_up):
    settings.SIGNUP_ENABLED = True
    email = unique_address("late")
    await _signup(client, email)
    token = token_of((await sync_to_async(smtp_up.wait_for)(email))[0])
    await OneTimeToken.objects.filter(user__email=email).aupdate(expires_at=timezone.now() - timedelta(seconds=1))
    response = await post(client, "/auth/signup/verify", {"token": token})
    assert (response.status_code, envelope_of(response)["code"]) == (400, 40001)
    assert not (await User.objects.aget(email=email)).is_active


async def test_signup_with_a_taken_address_answers_the_same_and_mails_a_notice(client, settings, mail_worker, smtp_up):
    settings.SIGNUP_ENABLED = True
    existing = cast(User, await sync_to_async(UserFactory)(email=unique_address("owner")))
    response = await _signup(client, existing.email, username="another-name")
    assert (response.status_code, envelope_of(response)) == (200, {"code": 0, "message": "OK", "data": None})
    (notice,) = await sync_to_async(smtp_up.wait_for)(existing.email)
    assert notice["Subject"] == "Sign-up with your e-mail address"
    assert not await User.objects.filter(username="another-name").aexists()


async def test_signup_refusals(client, settings):
    settings.SIGNUP_ENABLED = True
    existing = cast(User, await sync_to_async(UserFactory)())
    taken = await _signup(client, unique_address(), username=existing.username)
    assert (taken.status_code, envelope_of(taken)["code"]) == (409, 40900)
    weak = await post(
        client,
        "/auth/signup",
        {"username": "weakling", "email": unique_address(), "password": await sealed(client, "1")},
    )
    assert (weak.status_code, envelope_of(weak)["code"]) == (422, 42200)
    bad_email = await post(client, "/auth/signup", {"username": "x", "email": "x", "password": "y"})
    assert envelope_of(bad_email)["code"] == 42200
    unsealed = await post(client, "/auth/signup", {"username": "plain", "email": unique_address(), "password": "y"})
    assert (unsealed.status_code, envelope_of(unsealed)["code"]) == (400, 40000)
    assert envelope_of(await post(client, "/auth/signup/verify", {"token": "nope"}))["code"] == 40001
    assert envelope_of(await post(client, "/auth/signup/verify", {}))["code"] == 42200
