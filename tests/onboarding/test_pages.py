"""The Django pages: "Forgotten your password?" on the admin's sign-in page, and the mailed links' pages."""

from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.models import User
from tests.conftest import envelope_of
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import bearer_headers, grant, login
from tests.mail.support import parts, unique_address
from tests.onboarding.conftest import post, wait_login_event

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "Page-pass-2026-x"


def _link_path(message: Any) -> str:
    text, _ = parts(message)
    url = next(word for word in text.split() if "token=" in word)
    parsed = urlsplit(url)
    return f"{parsed.path}?{parsed.query}"


async def test_admin_sign_in_page_links_to_the_forgotten_password_page(client):
    page = await client.get("/admin/login/")
    assert page.status_code == 200
    assert 'href="/accounts/password-reset/"' in page.content.decode()


async def test_forgotten_password_pages_end_to_end(client, mail_worker, smtp_up):
    user = cast(User, await sync_to_async(UserFactory)(email=unique_address("page"), is_staff=True))
    headers = await bearer_headers(user)
    form = await client.get("/accounts/password-reset/")
    assert form.status_code == 200 and 'name="email"' in form.content.decode()
    sent = await client.post("/accounts/password-reset/", {"email": user.email})
    assert sent.status_code == 200 and "onboarding-done" in sent.content.decode()
    unknown = await client.post("/accounts/password-reset/", {"email": unique_address("nobody")})
    assert unknown.status_code == 200 and "onboarding-done" in unknown.content.decode()  # the same page

    (message,) = await sync_to_async(smtp_up.wait_for)(user.email)
    path = _link_path(message)
    assert path.startswith("/accounts/password-reset/confirm/?token=")
    token = path.split("token=")[1]
    page = await client.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert f'value="{token}"' in page.content.decode()

    target = "/accounts/password-reset/confirm/"
    differ = await client.post(target, {"token": token, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert differ.status_code == 200 and "The two passwords differ." in differ.content.decode()
    weak = await client.post(target, {"token": token, "password1": "123", "password2": "123"})
    assert weak.status_code == 200 and "onboarding-done" not in weak.content.decode()
    done = await client.post(target, {"token": token, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 200 and "onboarding-done" in done.content.decode()

    assert envelope_of(await client.get("/api/v1/auth/user/info", headers=headers))["code"] == 40103
    assert envelope_of(await login(client, user.username, NEW_PASSWORD))["code"] == 0
    assert envelope_of(await login(client, user.username, DEFAULT_PASSWORD))["code"] == 40104
    logged = await wait_login_event(event="password_reset_done", user_id=str(user.pk))
    assert logged["channel"] == "admin"
    again = await client.post(target, {"token": token, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert again.status_code == 400 and "invalid, expired or already used" in again.content.decode()


async def test_invitation_page_creates_the_account(client, mail_worker, smtp_up):
    operator = cast(User, await sync_to_async(UserFactory)())
    await grant(operator, "POST:/api/v1/invitations")
    email = unique_address("pageinv")
    response = await post(
        client, "/invitations", {"email": email, "full_name": "Page Invitee"}, **await bearer_headers(operator)
    )
    assert response.status_code == 201
    path = _link_path((await sync_to_async(smtp_up.wait_for)(email))[0])
    page = await client.get(path)
    assert page.status_code == 200 and email in page.content.decode() and "Page Invitee" in page.content.decode()
    token = path.split("token=")[1]
    body = {
        "token": token,
        "username": "page-invitee",
        "full_name": "P",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    created = await client.post("/accounts/invitation/", body)
    assert created.status_code == 200 and "onboarding-done" in created.content.decode()
    assert (await User.objects.aget(username="page-invitee")).email == email
    assert (await client.get(path)).status_code == 400


async def test_verification_page_needs_the_button(client, settings, mail_worker, smtp_up):
    settings.SIGNUP_ENABLED = True
    email = unique_address("pagever")
    from tests.onboarding.conftest import sealed

    body = {"username": "page-signup", "email": email, "password": await sealed(client, NEW_PASSWORD)}
    assert envelope_of(await post(client, "/auth/signup", body))["code"] == 0
    path = _link_path((await sync_to_async(smtp_up.wait_for)(email))[0])
    assert path.startswith("/accounts/verify/?token=")
    assert (await client.get(path)).status_code == 200
    assert not (await User.objects.aget(username="page-signup")).is_active  # opening the link is not enough
    confirmed = await client.post("/accounts/verify/", {"token": path.split("token=")[1]})
    assert confirmed.status_code == 200 and "onboarding-done" in confirmed.content.decode()
    assert (await User.objects.aget(username="page-signup")).is_active
    assert (await client.post("/accounts/verify/", {"token": path.split("token=")[1]})).status_code == 400
