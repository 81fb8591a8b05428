"""Two-factor sign-in: TOTP window with a fixed clock, replay refused, backup codes single-use, the login flow."""

import json

import pyotp
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.audit.documents import LoginLog
from apps.audit.writer import get_writer
from apps.security import two_factor
from apps.security.models import BackupCode, TOTPDevice
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, login

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_800_000_000.0  # a fixed clock, on a 30-second step boundary


def _enrolled(username="otto", *, is_staff=False):
    user = UserFactory(username=username, password="otto-pass-1", is_staff=is_staff)
    secret = pyotp.random_base32()
    TOTPDevice.objects.create(user=user, secret=secret, confirmed=True)
    return user, pyotp.TOTP(secret)


def test_totp_window_with_a_fixed_clock(settings):
    settings.TOTP_VALID_WINDOW = 1
    user, totp = _enrolled()
    assert two_factor.verify_sync(user.pk, totp.at(T0 - 60), now=T0) is None  # two steps back: outside
    assert two_factor.verify_sync(user.pk, totp.at(T0 + 60), now=T0) is None  # two steps ahead: outside
    assert two_factor.verify_sync(user.pk, totp.at(T0 - 30), now=T0) == "totp"  # one step back: drift allowed
    assert two_factor.verify_sync(user.pk, totp.at(T0), now=T0) == "totp"


def test_totp_window_zero_accepts_only_the_current_step(settings):
    settings.TOTP_VALID_WINDOW = 0
    user, totp = _enrolled()
    assert two_factor.verify_sync(user.pk, totp.at(T0 - 30), now=T0) is None
    assert two_factor.verify_sync(user.pk, totp.at(T0), now=T0) == "totp"


def test_a_used_code_and_older_ones_are_refused():
    user, totp = _enrolled()
    code = totp.at(T0)
    assert two_factor.verify_sync(user.pk, code, now=T0) == "totp"
    assert two_factor.verify_sync(user.pk, code, now=T0) is None  # replay
    assert two_factor.verify_sync(user.pk, code, now=T0 + 29) is None
    assert two_factor.verify_sync(user.pk, totp.at(T0 - 30), now=T0) is None  # an earlier step after a later one
    assert two_factor.verify_sync(user.pk, totp.at(T0 + 30), now=T0 + 30) == "totp"


def test_wrong_and_malformed_codes_are_refused():
    user, totp = _enrolled()
    wrong = f"{(int(totp.at(T0)) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "abc", "1" * 40):
        assert two_factor.verify_sync(user.pk, code, now=T0) is None


def test_enrolment_confirm_gives_ten_hashed_single_use_backup_codes():
    user = UserFactory(username="newotp")
    enrolment = two_factor._enrol(user)
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    assert enrolment.qr_svg.startswith("data:image/svg+xml") and enrolment.qr_png.startswith("data:image/png;base64,")
    assert not two_factor.has_two_factor_sync(user.pk)  # not before a code confirms it
    totp = pyotp.TOTP(enrolment.secret)
    assert two_factor._confirm(user, "000000" if totp.at(T0) != "000000" else "111111", T0) is None
    codes = two_factor._confirm(user, totp.at(T0), T0)
    assert codes is not None and len(codes) == 10 and len(set(codes)) == 10
    assert two_factor.has_two_factor_sync(user.pk)
    stored = list(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert all(code.replace("-", "") not in "".join(stored) for code in codes)  # only hashes are kept
    assert two_factor.verify_sync(user.pk, codes[0]) == "backup_code"
    assert two_factor.verify_sync(user.pk, codes[0]) is None  # single use
    assert two_factor.verify_sync(user.pk, codes[1].upper().replace("-", " ")) == "backup_code"
    assert two_factor.backup_codes_left_sync(user.pk) == 8


async def _login_2fa(client, ticket, code):
    return await client.post(
        "/api/v1/auth/login/2fa",
        data=json.dumps({"two_factor_token": ticket, "code": code}),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )


async def test_login_answers_40106_and_login_2fa_issues_the_tokens(client):
    _user, totp = await sync_to_async(_enrolled)()
    first = await login(client, "otto", "otto-pass-1")
    body = envelope_of(first)
    assert first.status_code == 401 and body["code"] == 40106
    assert "access_token" not in json.dumps(body)
    ticket = body["data"]["two_factor_token"]
    assert body["data"]["methods"] == ["totp", "backup_code"] and body["data"]["expires_in"] > 0

    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    refused = await _login_2fa(client, ticket, wrong)
    assert refused.status_code == 401 and envelope_of(refused)["code"] == 40107
    done = await _login_2fa(client, ticket, totp.now())
    assert done.status_code == 200, done.content
    tokens = envelope_of(done)["data"]
    info = await client.get(
        "/api/v1/auth/user/info", headers={"Authorization": f"Bearer {tokens['access_token']}", "User-Agent": "pytest"}
    )
    assert envelope_of(info)["data"]["username"] == "otto"
    # The ticket is single-use, and the code cannot be replayed with a new ticket either.
    assert envelope_of(await _login_2fa(client, ticket, totp.now()))["code"] == 40105
    again = envelope_of(await login(client, "otto", "otto-pass-1"))["data"]["two_factor_token"]
    assert envelope_of(await _login_2fa(client, again, totp.now()))["code"] == 40107

    assert await sync_to_async(get_writer().flush)(timeout=15)
    events = await sync_to_async(lambda: set(LoginLog.objects(username="otto").distinct("event")))()
    assert {"login", "2fa_failed", "2fa_used"} <= events


async def test_login_2fa_bad_ticket_and_bad_body(client):
    assert envelope_of(await _login_2fa(client, "no-such-ticket", "123456"))["code"] == 40105
    response = await client.post(
        "/api/v1/auth/login/2fa", data=json.dumps({"code": "1"}), content_type="application/json"
    )
    assert response.status_code == 422 and envelope_of(response)["code"] == 42200


async def test_login_2fa_is_throttled_like_login(client, settings):
    settings.LOGIN_THROTTLE_USERNAME_LIMIT = 3
    _user, totp = await sync_to_async(_enrolled)()
    ticket = envelope_of(await login(client, "otto", "otto-pass-1"))["data"]["two_factor_token"]
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    codes = [envelope_of(await _login_2fa(client, ticket, wrong))["code"] for _ in range(4)]
    assert codes == [40107, 40107, 40107, 42900]
    throttled = await _login_2fa(client, ticket, totp.now())  # even the right code
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]


async def test_users_without_2fa_sign_in_as_before(client):
    await sync_to_async(UserFactory.create)(username="plain", password="plain-pass-1")
    response = await login(client, "plain", "plain-pass-1")
    assert response.status_code == 200 and envelope_of(response)["data"]["token_type"] == "Bearer"


async def test_enrol_confirm_disable_over_the_api(client):
    user = await sync_to_async(UserFactory.create)(username="selfie", password="selfie-pass-1")
    headers = await bearer_headers(user)
    post = lambda path, body=None: client.post(  # noqa: E731
        f"/api/v1/auth/2fa/{path}", data=json.dumps(body or {}), content_type="application/json", headers=headers
    )
    assert envelope_of(await client.get("/api/v1/auth/2fa", headers=headers))["data"]["enabled"] is False
    enrolment = envelope_of(await post("enrol"))["data"]
    assert enrolment["qr_svg"].startswith("data:image/svg+xml")
    totp = pyotp.TOTP(enrolment["secret"])
    assert envelope_of(await post("confirm", {"code": "abcdef"}))["code"] == 40107
    confirmed = envelope_of(await post("confirm", {"code": totp.now()}))
    assert confirmed["code"] == 0 and len(confirmed["data"]["backup_codes"]) == 10
    assert envelope_of(await post("enrol"))["code"] == 40900  # already on
    status = envelope_of(await client.get("/api/v1/auth/2fa", headers=headers))["data"]
    assert status == {"enabled": True, "backup_codes_left": 10, "required": False}
    assert envelope_of(await post("disable", {"code": "000000"}))["code"] == 40107
    assert envelope_of(await post("disable", {"code": confirmed["data"]["backup_codes"][0]}))["code"] == 0
    assert envelope_of(await client.get("/api/v1/auth/2fa", headers=headers))["data"]["enabled"] is False
    assert envelope_of(await post("disable", {"code": totp.now()}))["code"] == 40400
    assert await sync_to_async(get_writer().flush)(timeout=15)
    events = await sync_to_async(lambda: set(LoginLog.objects(username="selfie").distinct("event")))()
    assert {"2fa_enrolled", "2fa_failed", "2fa_disabled"} <= events


def _admin_post(browser, **fields):
    return browser.post("/admin/login/?next=/admin/", {"username": "otto", "password": "otto-pass-1", **fields})


def test_admin_login_asks_for_the_second_factor():
    _user, totp = _enrolled(is_staff=True)
    browser = Client()
    page = browser.get("/admin/login/")
    assert b'name="otp_code"' in page.content
    missing = _admin_post(browser)
    assert missing.status_code == 200 and b"two-factor sign-in on" in missing.content
    wrong = _admin_post(browser, otp_code=f"{(int(totp.now()) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 200 and b"wrong or was already used" in wrong.content
    code = totp.now()
    ok = _admin_post(browser, otp_code=code)
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/"
    replay = _admin_post(Client(), otp_code=code)
    assert replay.status_code == 200 and b"wrong or was already used" in replay.content


def test_admin_login_without_2fa_unchanged():
    UserFactory(username="plainstaff", password="plain-pass-1", is_staff=True)
    response = Client().post("/admin/login/?next=/admin/", {"username": "plainstaff", "password": "plain-pass-1"})
    assert response.status_code == 302


async def test_disable_and_new_backup_codes_are_throttled_like_login(client, settings):
    settings.LOGIN_THROTTLE_USERNAME_LIMIT = 3
    user, totp = await sync_to_async(_enrolled)()
    headers = await bearer_headers(user)
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"

    async def post(path, code):
        response = await client.post(
            f"/api/v1/auth/2fa/{path}",
            data=json.dumps({"code": code}),
            content_type="application/json",
            headers=headers,
        )
        return envelope_of(response)["code"]

    # A stolen token does not buy unlimited guesses: disable and backup-codes share the sign-in throttle.
    assert [await post("disable", wrong), await post("backup-codes", wrong), await post("disable", wrong)] == [
        40107,
        40107,
        40107,
    ]
    assert await post("disable", totp.now()) == 42900  # even the right code, until the window lifts
    assert await two_factor.has_two_factor(user_id=user.pk)
    assert await sync_to_async(get_writer().flush)(timeout=15)
    failed = await sync_to_async(lambda: LoginLog.objects(user_id=str(user.pk), event="2fa_failed").count())()
    assert failed == 4
