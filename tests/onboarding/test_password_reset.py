"""Password reset end to end: the request is answered the same for every address, the worker mails a link
through the real SMTP server, the link sets a password once and ends every session; throttled; logged."""

import statistics
import time
from datetime import timedelta
from typing import cast

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.accounts.models import User
from apps.onboarding.models import OneTimeToken
from tests.conftest import envelope_of
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import bearer_headers, login
from tests.mail.support import parts, token_of, unique_address
from tests.onboarding.conftest import post, sealed, wait_login_event

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-new-Passw0rd-2026"


async def _user(**fields) -> User:
    email = fields.pop("email", None) or unique_address("reset")
    return cast(User, await sync_to_async(UserFactory)(username=email.split("@")[0], email=email, **fields))


async def _reset_mail(client, smtp, user: User, count: int = 1, headers: dict[str, str] | None = None):
    response = await post(client, "/auth/password/reset", {"email": user.email.upper()}, **(headers or {}))
    assert (response.status_code, envelope_of(response)) == (200, {"code": 0, "message": "OK", "data": None})
    return (await sync_to_async(smtp.wait_for)(user.email, count=count))[-1]


async def test_reset_mails_a_link_that_sets_the_password_once_and_ends_every_session(client, mail_worker, smtp_up):
    user = await _user()
    headers = await bearer_headers(user)
    assert (await client.get("/api/v1/auth/user/info", headers=headers)).status_code == 200

    message = await _reset_mail(client, smtp_up, user)
    assert message["Subject"] == "Reset your password"
    text, html = parts(message)
    assert user.username in text and "/accounts/password-reset/confirm/?token=" in text and "href=" in html
    token = token_of(message)
    requested = await wait_login_event(event="password_reset_requested", user_id=str(user.pk))
    assert requested["success"] is True and requested["username"] == user.username

    body = {"token": token, "new_password": await sealed(client, NEW_PASSWORD)}
    done = await post(client, "/auth/password/reset/confirm", body)
    assert (done.status_code, envelope_of(done)["code"]) == (200, 0)

    revoked = await client.get("/api/v1/auth/user/info", headers=headers)
    assert envelope_of(revoked)["code"] == 40103  # the session open before the reset ended
    assert envelope_of(await login(client, user.username, DEFAULT_PASSWORD))["code"] == 40104
    assert envelope_of(await login(client, user.username, NEW_PASSWORD))["code"] == 0
    await wait_login_event(event="password_reset_done", user_id=str(user.pk), success=True)

    again = await post(
        client,
        "/auth/password/reset/confirm",
        {"token": token, "new_password": await sealed(client, "x-Other-pass-99")},
    )
    assert (again.status_code, envelope_of(again)["code"]) == (400, 40001)


async def test_reset_mail_is_in_the_requested_language(client, mail_worker, smtp_up):
    user = await _user()
    message = await _reset_mail(client, smtp_up, user, headers={"Accept-Language": "zh-Hans"})
    assert message["Subject"] == "重置密码"
    assert "设置新密码" in parts(message)[1]


async def test_expired_link_is_refused(client, mail_worker, smtp_up):
    user = await _user()
    token = token_of(await _reset_mail(client, smtp_up, user))
    await OneTimeToken.objects.filter(user=user).aupdate(expires_at=timezone.now() - timedelta(seconds=1))
    response = await post(
        client, "/auth/password/reset/confirm", {"token": token, "new_password": await sealed(client, NEW_PASSWORD)}
    )
    assert (response.status_code, envelope_of(response)["code"]) == (400, 40001)
    assert await sync_to_async((await User.objects.aget(pk=user.pk)).check_password)(DEFAULT_PASSWORD)


async def test_a_newer_reset_link_dies_with_the_one_used(client, mail_worker, smtp_up):
    user = await _user()
    first = token_of(await _reset_mail(client, smtp_up, user))
    second = token_of(await _reset_mail(client, smtp_up, user, count=2))
    assert first != second
    ok = await post(
        client, "/auth/password/reset/confirm", {"token": second, "new_password": await sealed(client, NEW_PASSWORD)}
    )
    assert envelope_of(ok)["code"] == 0
    late = await post(
        client,
        "/auth/password/reset/confirm",
        {"token": first, "new_password": await sealed(client, "x-Other-pass-99")},
    )
    assert envelope_of(late)["code"] == 40001


async def test_unacceptable_password_keeps_the_link_usable(client, mail_worker, smtp_up):
    user = await _user()
    token = token_of(await _reset_mail(client, smtp_up, user))
    weak = await post(
        client, "/auth/password/reset/confirm", {"token": token, "new_password": await sealed(client, "123")}
    )
    data = envelope_of(weak)
    assert (weak.status_code, data["code"]) == (422, 42200)
    assert data["data"][0]["loc"] == ["body", "new_password"]
    ok = await post(
        client, "/auth/password/reset/confirm", {"token": token, "new_password": await sealed(client, NEW_PASSWORD)}
    )
    assert envelope_of(ok)["code"] == 0


async def test_unknown_address_same_answer_similar_time_no_mail_and_logged(client, mail_worker, smtp_up):
    user = await _user()
    unknown = unique_address("nobody")
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(4):
        for kind, email in (("known", user.email), ("unknown", unknown)):
            started = time.perf_counter()
            response = await post(client, "/auth/password/reset", {"email": email})
            timings[kind].append(time.perf_counter() - started)
            assert (response.status_code, envelope_of(response)) == (200, {"code": 0, "message": "OK", "data": None})
    known, missing = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    # The request only throttles and publishes the same message; the lookup happens in the worker.
    assert abs(known - missing) < max(0.05, 0.5 * min(known, missing)), timings
    await sync_to_async(smtp_up.wait_for)(user.email, count=4)
    logged = await wait_login_event(event="password_reset_requested", username=unknown)
    assert (logged["success"], logged["reason"], logged["user_id"]) == (False, "unknown_email", None)
    assert smtp_up.messages(unknown) == []


async def test_reset_requests_are_throttled_per_address_known_or_not(client, settings, mail_worker, smtp_up):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 2
    user = await _user()
    for email in (user.email, unique_address("nobody")):
        codes = [envelope_of(await post(client, "/auth/password/reset", {"email": email}))["code"] for _ in range(3)]
        assert codes == [0, 0, 42900]
    refused = await post(client, "/auth/password/reset", {"email": user.email})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, 42200),
        ({"email": "not-an-address"}, 422, 42200),
        ({"email": 5}, 422, 42200),
        ({"email": "x@" + "a" * 300 + ".test"}, 422, 42200),
    ],
)
async def test_reset_request_bad_input(client, body, status, code):
    response = await post(client, "/auth/password/reset", body)
    assert (response.status_code, envelope_of(response)["code"]) == (status, code)


async def test_reset_confirm_bad_input(client):
    cases = [
        ({"token": "x"}, 422, 42200),
        ({"token": "", "new_password": "x"}, 422, 42200),
        ({"token": "unknown", "new_password": await sealed(client, NEW_PASSWORD)}, 400, 40001),
        ({"token": "unknown", "new_password": "plaintext"}, 400, 40000),  # not sealed with the served key
    ]
    for body, status, code in cases:
        response = await post(client, "/auth/password/reset/confirm", body)
        assert (response.status_code, envelope_of(response)["code"]) == (status, code), body
    # A challenge works once, here as in login.
    password = await sealed(client, NEW_PASSWORD)
    await post(client, "/auth/password/reset/confirm", {"token": "unknown", "new_password": password})
    reused = await post(client, "/auth/password/reset/confirm", {"token": "unknown", "new_password": password})
    assert envelope_of(reused)["code"] == 40105
