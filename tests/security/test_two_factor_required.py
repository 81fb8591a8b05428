"""A role can require two-factor sign-in: its holders without a device enrol at their next sign-in (40111), in
the API and on the admin's sign-in page; they cannot turn it off; the setting is edited in the API and the admin."""

import json
import re
from datetime import timedelta

import pyotp
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Role, RoleProfile
from apps.audit.documents import LoginLog
from apps.audit.writer import get_writer
from apps.security import two_factor
from apps.security.models import PasswordHistory, TOTPDevice
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant, login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "guarded-pass-1"
ROLE_TWO_FACTOR = "/api/v1/roles/{role_id}/two-factor"


def _holder(username: str, *, required: bool = True, role_active: bool = True, is_staff: bool = False):
    user = UserFactory(username=username, password=PASSWORD, is_staff=is_staff)
    role = Role.objects.create(name=f"guarded-{username}")
    RoleProfile.objects.update_or_create(
        group=role, defaults={"is_active": role_active, "require_two_factor": required}
    )
    user.groups.add(role)
    return user, role


async def _post(client, path: str, body: dict, **headers):
    return await client.post(
        f"/api/v1{path}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"User-Agent": "pytest", **headers},
    )


async def _enrolment_ticket(client, username: str) -> str:
    response = await login(client, username, PASSWORD)
    body = envelope_of(response)
    assert (response.status_code, body["code"]) == (401, 40111), body
    assert set(body["data"]) == {"enrolment_token", "expires_in"} and body["data"]["expires_in"] > 0
    assert "access_token" not in json.dumps(body)
    return str(body["data"]["enrolment_token"])


def _wrong(totp: pyotp.TOTP) -> str:
    return f"{(int(totp.now()) + 1) % 1_000_000:06d}"


async def test_a_required_role_makes_login_enrol_then_sign_in_with_backup_codes(client):
    user, _role = await sync_to_async(_holder)("guarded")
    ticket = await _enrolment_ticket(client, "guarded")

    enrolment = await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": ticket})
    assert enrolment.status_code == 200, enrolment.content
    secret = envelope_of(enrolment)["data"]
    assert secret["qr_svg"].startswith("data:image/svg+xml") and secret["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(secret["secret"])
    assert not await two_factor.has_two_factor(user_id=user.pk)  # not before a code confirms it

    wrong = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": _wrong(totp)})
    assert (wrong.status_code, envelope_of(wrong)["code"]) == (401, 40107)  # the ticket stays usable
    done = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": totp.now()})
    assert done.status_code == 200, done.content
    data = envelope_of(done)["data"]
    assert data["token_type"] == "Bearer" and len(set(data["backup_codes"])) == 10
    info = await client.get(
        "/api/v1/auth/user/info", headers={"Authorization": f"Bearer {data['access_token']}", "User-Agent": "pytest"}
    )
    assert envelope_of(info)["data"]["username"] == "guarded"
    assert await two_factor.has_two_factor(user_id=user.pk)

    # Single-use ticket; from now on login asks for the second factor (40106), like any enrolled account.
    again = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": totp.now()})
    assert envelope_of(again)["code"] == 40105
    assert envelope_of(await login(client, "guarded", PASSWORD))["code"] == 40106

    assert await sync_to_async(get_writer().flush)(timeout=15)
    logged = await sync_to_async(lambda: [(e.event, e.reason) for e in LoginLog.objects(username="guarded")])()
    assert ("login", "2fa_enrolment_required") in logged
    assert {("2fa_failed", "bad_code"), ("2fa_enrolled", "ok"), ("2fa_used", "ok")} <= set(logged)


async def test_the_requirement_follows_active_roles_only(client):
    await sync_to_async(_holder)("offrole", role_active=False)
    await sync_to_async(_holder)("notrequired", required=False)
    for username in ("offrole", "notrequired"):
        response = await login(client, username, PASSWORD)
        assert response.status_code == 200 and envelope_of(response)["data"]["token_type"] == "Bearer"


async def test_enrolment_tickets_are_checked(client):
    user, _role = await sync_to_async(_holder)("tickets")
    assert envelope_of(await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": "nope"}))["code"] == 40105
    ticket = await _enrolment_ticket(client, "tickets")
    # A 40111 ticket is not a 40106 ticket, and the other way round.
    assert (
        envelope_of(await _post(client, "/auth/login/2fa", {"two_factor_token": ticket, "code": "123456"}))["code"]
        == 40105
    )
    second_factor_ticket = await two_factor.ticket_issue(user_id=str(user.pk), username="tickets", channel="api")
    refused = await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": second_factor_ticket})
    assert envelope_of(refused)["code"] == 40105
    # Confirming before the enrolment started has nothing to confirm.
    early = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": "123456"})
    assert (early.status_code, envelope_of(early)["code"]) == (404, 40400)
    malformed = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": "１２３"})
    assert (malformed.status_code, envelope_of(malformed)["code"]) == (422, 42200)
    # A user deactivated after the password step gets nothing from the ticket.
    await type(user).objects.filter(pk=user.pk).aupdate(is_active=False)
    assert envelope_of(await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": ticket}))["code"] == 40104


async def test_enrolment_confirm_is_throttled_like_login(client, settings):
    settings.LOGIN_THROTTLE_USERNAME_LIMIT = 3
    await sync_to_async(_holder)("hammer")
    ticket = await _enrolment_ticket(client, "hammer")
    secret = envelope_of(await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": ticket}))["data"]["secret"]
    totp = pyotp.TOTP(secret)
    body = {"enrolment_token": ticket, "code": _wrong(totp)}
    codes = [envelope_of(await _post(client, "/auth/login/2fa/enrol/confirm", body))["code"] for _ in range(4)]
    assert codes == [40107, 40107, 40107, 42900]
    right = await _post(client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": totp.now()})
    assert right.status_code == 429


async def test_an_expired_password_still_hands_over_the_backup_codes(client, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 30
    user, _role = await sync_to_async(_holder)("stale")
    await PasswordHistory.objects.filter(user=user).aupdate(created_at=timezone.now() - timedelta(days=31))
    ticket = await _enrolment_ticket(client, "stale")
    secret = envelope_of(await _post(client, "/auth/login/2fa/enrol", {"enrolment_token": ticket}))["data"]["secret"]
    done = await _post(
        client, "/auth/login/2fa/enrol/confirm", {"enrolment_token": ticket, "code": pyotp.TOTP(secret).now()}
    )
    body = envelope_of(done)
    assert (done.status_code, body["code"]) == (401, 40110)
    assert body["data"]["password_change_token"] and len(body["data"]["backup_codes"]) == 10
    assert await two_factor.has_two_factor(user_id=user.pk)


async def test_a_holder_cannot_turn_it_off_but_sees_why(client):
    user, role = await sync_to_async(_holder)("keeper")
    secret = pyotp.random_base32()
    await TOTPDevice.objects.acreate(user=user, secret=secret, confirmed=True)
    headers = await bearer_headers(user)
    status = envelope_of(await client.get("/api/v1/auth/2fa", headers=headers))["data"]
    assert status == {"enabled": True, "backup_codes_left": 0, "required": True}
    refused = await _post(client, "/auth/2fa/disable", {"code": pyotp.TOTP(secret).now()}, **headers)
    assert (refused.status_code, envelope_of(refused)["code"]) == (403, 40300)
    assert await two_factor.has_two_factor(user_id=user.pk)

    await RoleProfile.objects.filter(group=role).aupdate(require_two_factor=False)
    allowed = await _post(client, "/auth/2fa/disable", {"code": pyotp.TOTP(secret).now()}, **headers)
    assert envelope_of(allowed)["code"] == 0


async def test_the_role_setting_over_the_api(client):
    operator = await sync_to_async(UserFactory.create)(username="secops")
    await grant(operator, "GET:" + ROLE_TWO_FACTOR, "PUT:" + ROLE_TWO_FACTOR)
    headers = await bearer_headers(operator)
    role = await Role.objects.acreate(name="tellers")
    path = ROLE_TWO_FACTOR.format(role_id=role.pk)
    assert envelope_of(await client.get(path, headers=headers))["data"] == {"required": False}
    put = await client.put(path, data=json.dumps({"required": True}), content_type="application/json", headers=headers)
    assert envelope_of(put) == {"code": 0, "message": "OK", "data": {"required": True}}
    assert (await RoleProfile.objects.aget(group=role)).require_two_factor is True
    assert envelope_of(await client.get(path, headers=headers))["data"] == {"required": True}

    bad = await client.put(path, data=json.dumps({"required": "yes"}), content_type="application/json", headers=headers)
    assert (bad.status_code, envelope_of(bad)["code"]) == (422, 42200)
    missing = ROLE_TWO_FACTOR.format(role_id=role.pk + 1000)
    assert envelope_of(await client.get(missing, headers=headers))["code"] == 40400

    outsider = await bearer_headers(await sync_to_async(UserFactory.create)(username="nobody"))
    denied = await client.put(
        path, data=json.dumps({"required": False}), content_type="application/json", headers=outsider
    )
    assert (denied.status_code, envelope_of(denied)["code"]) == (403, 40300)
    assert (await RoleProfile.objects.aget(group=role)).require_two_factor is True


def _admin_login(browser: Client, **fields):
    return browser.post("/admin/login/?next=/admin/", {"username": "deskstaff", "password": PASSWORD, **fields})


def test_the_admin_sign_in_enrols_a_required_holder():
    user, _role = _holder("deskstaff", is_staff=True)
    browser = Client()
    first = _admin_login(browser)
    assert first.status_code == 200 and b"requires two-factor sign-in" in first.content
    shown = re.search(rb'<code class="[^"]*">([A-Z2-7]+)</code>', first.content)
    assert shown and b'src="data:image/svg+xml' in first.content
    totp = pyotp.TOTP(shown.group(1).decode())

    wrong = _admin_login(browser, otp_code=_wrong(totp))
    assert wrong.status_code == 200 and b"wrong or was already used" in wrong.content
    assert not two_factor.has_two_factor_sync(user.pk)
    done = _admin_login(browser, otp_code=totp.now())
    assert done.status_code == 302 and done.headers["Location"] == "/admin/"
    assert two_factor.has_two_factor_sync(user.pk)
    index = browser.get("/admin/")
    codes = re.findall(rb"\b[a-z2-9]{5}-[a-z2-9]{5}\b", index.content)
    assert b"backup codes" in index.content and len(set(codes)) == 10
    assert two_factor.verify_sync(user.pk, codes[0].decode()) == "backup_code"  # the codes shown are the real ones
    # The next sign-in asks for a code like for any enrolled account.
    assert b"two-factor sign-in on" in _admin_login(Client()).content


def test_the_role_page_edits_the_requirement():
    admin = UserFactory(username="rootish", password=PASSWORD, is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    role = Role.objects.create(name="vault")
    page = browser.get(f"/admin/accounts/role/{role.pk}/change/")
    assert page.status_code == 200 and b"require_two_factor" in page.content
    form = {
        "name": "vault",
        "permissions": [],
        "other_permissions": [],
        "_save": "Save",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-group": str(role.pk),
        "profile-0-description": "",
        "profile-0-is_active": "on",
        "profile-0-require_two_factor": "on",
    }
    saved = browser.post(f"/admin/accounts/role/{role.pk}/change/", form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert RoleProfile.objects.get(group=role).require_two_factor is True


def test_the_role_page_offers_the_requirement_only_with_its_operation():
    role = Role.objects.create(name="tellers")
    read = ("GET:/api/v1/roles", "GET:/api/v1/roles/{role_id}", "GET:/api/v1/permissions")
    editor = UserFactory(username="editor", is_staff=True)
    async_to_sync(grant)(editor, *read, "PATCH:/api/v1/roles/{role_id}")
    guardian = UserFactory(username="guardian", is_staff=True)
    async_to_sync(grant)(guardian, *read, "PATCH:/api/v1/roles/{role_id}", "PUT:" + ROLE_TWO_FACTOR)
    pages = {}
    for user in (editor, guardian):
        browser = Client()
        browser.force_login(user)
        pages[user.username] = browser.get(f"/admin/accounts/role/{role.pk}/change/").content
    assert b'name="profile-0-description"' in pages["editor"]  # the role settings show ...
    assert b'name="profile-0-require_two_factor"' not in pages["editor"]  # ... the requirement read-only
    assert b'name="profile-0-require_two_factor"' in pages["guardian"]
