"""Captcha after repeated failed sign-ins: thresholds per username and per IP, wrong or missing answers, reset."""

import base64
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.audit.documents import LoginLog
from apps.audit.writer import get_writer
from apps.core.redis import key, sync_redis
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import encrypt_like_webcrypto

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.CAPTCHA_AFTER_USER_FAILURES = 2
    settings.CAPTCHA_AFTER_IP_FAILURES = 4
    settings.LOGIN_THROTTLE_USERNAME_LIMIT = 50
    settings.LOGIN_THROTTLE_IP_LIMIT = 50


def _answer(captcha_id):
    value = sync_redis().get(key("cap", captcha_id))
    return value.decode() if isinstance(value, bytes) else value


async def _captcha(client):
    response = await client.get("/api/v1/auth/captcha")
    assert response.status_code == 200
    return envelope_of(response)["data"]


async def _login(client, username, password, **extra):
    key_data = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    sealed = encrypt_like_webcrypto(key_data["public_key"], password, key_data["challenge"])
    return await client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": username, "password": sealed, **extra}),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )


async def test_captcha_route_serves_a_png_and_a_single_use_answer(client):
    data = await _captcha(client)
    assert data["expires_in"] > 0
    assert data["image"].startswith("data:image/png;base64,")
    assert base64.b64decode(data["image"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_answer(data["captcha_id"])) == 5


async def test_user_threshold_wrong_and_missing_captcha_then_reset(client):
    await sync_to_async(UserFactory.create)(username="cap", password="cap-pass-1")
    for _ in range(2):
        assert envelope_of(await _login(client, "cap", "wrong-pass-1"))["code"] == 40104
    missing = await _login(client, "cap", "cap-pass-1")
    assert missing.status_code == 401 and envelope_of(missing)["code"] == 40108
    first = await _captcha(client)
    wrong = await _login(client, "cap", "cap-pass-1", captcha_id=first["captcha_id"], captcha_answer="nope")
    assert envelope_of(wrong)["code"] == 40109
    # That captcha was burnt by the wrong answer: its right answer no longer works either.
    second = await _captcha(client)
    answer = _answer(second["captcha_id"])
    reused = await _login(client, "cap", "cap-pass-1", captcha_id=first["captcha_id"], captcha_answer="x")
    assert envelope_of(reused)["code"] == 40109
    ok = await _login(client, "cap", "cap-pass-1", captcha_id=second["captcha_id"], captcha_answer=answer.lower())
    assert ok.status_code == 200, ok.content
    # A success resets the username's count: no captcha on the next sign-in.
    assert (await _login(client, "cap", "cap-pass-1")).status_code == 200

    assert await sync_to_async(get_writer().flush)(timeout=15)
    logs = await sync_to_async(lambda: list(LoginLog.objects(username="cap", event="captcha_failed")))()
    assert {log.reason for log in logs} == {"captcha_required", "captcha_invalid"}


async def test_ip_threshold_covers_every_username(client):
    for index in range(4):
        assert envelope_of(await _login(client, f"nobody{index}", "wrong-pass-1"))["code"] == 40104
    assert envelope_of(await _login(client, "someone-else", "wrong-pass-1"))["code"] == 40108


async def test_below_the_threshold_login_is_unchanged(client):
    await sync_to_async(UserFactory.create)(username="fine", password="fine-pass-1")
    assert envelope_of(await _login(client, "fine", "wrong-pass-1"))["code"] == 40104
    assert (await _login(client, "fine", "fine-pass-1")).status_code == 200


async def test_thresholds_off(client, settings):
    settings.CAPTCHA_AFTER_USER_FAILURES = settings.CAPTCHA_AFTER_IP_FAILURES = 0
    await sync_to_async(UserFactory.create)(username="off", password="off-pass-1")
    for _ in range(5):
        await _login(client, "off", "wrong-pass-1")
    assert (await _login(client, "off", "off-pass-1")).status_code == 200


def test_admin_login_shows_and_checks_the_captcha():
    UserFactory(username="adm", password="adm-pass-1", is_staff=True)
    browser = Client()
    post = lambda **fields: browser.post("/admin/login/?next=/admin/", {"username": "adm", **fields})  # noqa: E731
    assert b"data:image/png;base64," not in post(password="wrong-pass-1").content
    reached = post(password="wrong-pass-1")  # the failure that reaches the threshold shows the captcha at once
    assert b"data:image/png;base64," in reached.content
    missing = post(password="adm-pass-1")
    assert b"type the characters in the image" in missing.content
    wrong = post(password="adm-pass-1", captcha_id="unknown", captcha_answer="AAAAA")
    assert b"did not match the image" in wrong.content and b"data:image/png;base64," in wrong.content
    fresh_id = wrong.context["form"].data["captcha_id"]
    ok = post(password="adm-pass-1", captcha_id=fresh_id, captcha_answer=_answer(fresh_id))
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/"
