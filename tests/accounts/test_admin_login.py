"""Signing in on /admin/login/ goes through the API login's throttle and writes login logs with channel "admin"
(real Redis for the throttle, the real MongoDB-wire server for the logs, real Argon2)."""

import socket

import pytest
from asgiref.sync import sync_to_async

from apps.audit.writer import get_writer
from tests.audit.conftest import amake_user, audit_db, login_logs  # noqa: F401  (audit_db is a fixture)
from tests.conftest import envelope_of
from tests.helpers import bearer_headers, login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _behind_a_proxy(settings):
    """The test client's peer is 127.0.0.1; as a trusted proxy its X-Forwarded-For names each attempt's ip."""
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


LOGIN_URL = "/admin/login/"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@pytest.fixture
async def staff():
    return await amake_user(username="opal", password="opal-pass-1", is_staff=True)


async def _admin_login(client, username, password, ip="198.51.100.20"):
    return await client.post(
        LOGIN_URL,
        {"username": username, "password": password, "next": "/admin/"},
        headers={"User-Agent": CHROME, "X-Forwarded-For": ip},
    )


async def _flush():
    assert await sync_to_async(get_writer().flush)(timeout=15)


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


async def test_admin_sign_in_is_logged_with_channel_admin(client, staff, audit_db):  # noqa: F811
    response = await _admin_login(client, "opal", "opal-pass-1")
    assert _signed_in(response)
    assert (await client.get("/admin/")).status_code == 200  # the session is real
    await _flush()
    [log] = login_logs(audit_db)
    assert (log["username"], log["success"], log["reason"], log["channel"]) == ("opal", True, "ok", "admin")
    assert log["user_id"] == str(staff.pk)
    assert log["ip"] == "198.51.100.20"
    assert log["user_agent"] == CHROME and log["browser"].startswith("Chrome")
    assert log["request_id"]


async def test_failed_admin_sign_ins_are_logged_with_their_reasons(client, staff, audit_db):  # noqa: F811
    await amake_user(username="pablo", password="pablo-pass-1")  # not staff
    await amake_user(username="quinn", password="quinn-pass-1", is_staff=True, is_active=False)
    for username, password in [
        ("opal", "wrong"),
        ("nobody", "wrong"),
        ("pablo", "pablo-pass-1"),
        ("quinn", "quinn-pass-1"),
    ]:
        response = await _admin_login(client, username, password)
        assert response.status_code == 200, username
        # One message for every refusal: the page does not tell a wrong password from a non-staff account.
        assert "Please enter the correct username and password for a staff account" in response.content.decode()
    await _flush()
    logs = {log["username"]: log for log in login_logs(audit_db)}
    assert {name: (log["success"], log["reason"], log["channel"]) for name, log in logs.items()} == {
        "opal": (False, "bad_credentials", "admin"),
        "nobody": (False, "bad_credentials", "admin"),
        "pablo": (False, "not_staff", "admin"),
        "quinn": (False, "inactive", "admin"),
    }


async def test_admin_sign_in_is_throttled_even_with_the_right_password(client, staff, audit_db, settings):  # noqa: F811
    for _ in range(settings.LOGIN_THROTTLE_USERNAME_LIMIT):
        assert not _signed_in(await _admin_login(client, "opal", "wrong"))
    response = await _admin_login(client, "opal", "opal-pass-1")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Too many failed sign-ins. Try again in" in page
    assert "seconds" in page
    assert (await client.get("/admin/")).status_code == 302  # still signed out
    await _flush()
    reasons = [log["reason"] for log in login_logs(audit_db, username="opal")]
    assert reasons.count("bad_credentials") == settings.LOGIN_THROTTLE_USERNAME_LIMIT
    assert reasons.count("throttled") == 1


async def test_admin_and_api_sign_ins_share_one_throttle(client, staff, settings):
    # Failures on the admin page count for the API login of the same account, and the other way round.
    limit = settings.LOGIN_THROTTLE_USERNAME_LIMIT
    for _ in range(limit - 1):
        await _admin_login(client, "opal", "wrong")
    assert (await login(client, "opal", "wrong")).status_code == 401
    refused = await login(client, "opal", "opal-pass-1")
    assert (refused.status_code, envelope_of(refused)["code"]) == (429, 42900)
    assert "Too many failed sign-ins" in (await _admin_login(client, "opal", "opal-pass-1")).content.decode()


async def test_admin_sign_in_is_throttled_per_ip(client, staff, settings):
    settings.LOGIN_THROTTLE_IP_LIMIT = 3
    for name in ("a", "b", "c"):
        await _admin_login(client, name, "wrong", ip="198.51.100.99")
    response = await _admin_login(client, "opal", "opal-pass-1", ip="198.51.100.99")
    assert "Too many failed sign-ins" in response.content.decode()
    assert _signed_in(await _admin_login(client, "opal", "opal-pass-1", ip="198.51.100.100"))


async def test_admin_sign_in_success_clears_the_usernames_failures(client, staff, settings):
    for _ in range(settings.LOGIN_THROTTLE_USERNAME_LIMIT - 1):
        await _admin_login(client, "opal", "wrong")
    assert _signed_in(await _admin_login(client, "opal", "opal-pass-1"))
    await client.post("/admin/logout/")
    for _ in range(settings.LOGIN_THROTTLE_USERNAME_LIMIT - 1):
        await _admin_login(client, "opal", "wrong")
    assert _signed_in(await _admin_login(client, "opal", "opal-pass-1"))


async def test_api_sign_ins_are_logged_with_channel_api(client, staff, audit_db):  # noqa: F811
    assert (await login(client, "opal", "opal-pass-1")).status_code == 200
    assert (await login(client, "opal", "wrong")).status_code == 401
    await _flush()
    assert sorted((log["success"], log["channel"]) for log in login_logs(audit_db)) == [(False, "api"), (True, "api")]


async def test_login_logs_written_before_the_channel_field_read_as_api(client, audit_db):  # noqa: F811
    from datetime import UTC, datetime

    from apps.audit.documents import COLLECTIONS

    fields = ("request_id", "user_id", "ip", "user_agent", "browser", "os", "device")
    old = {  # every field a record had before "channel" existed
        "_id": "old-record",
        **dict.fromkeys(fields),
        "username": "legacy",
        "success": True,
        "reason": "ok",
        "created_at": datetime.now(UTC),
    }
    audit_db[COLLECTIONS["login"]].insert_one(old)
    root = await amake_user(username="auditroot", is_superuser=True, is_staff=True)
    response = await client.get("/api/v1/audit/logins", {"username": "legacy"}, headers=await bearer_headers(root))
    [item] = envelope_of(response)["data"]["items"]
    assert item["channel"] == "api"


async def test_admin_sign_in_with_redis_down_is_a_form_error_not_a_500(client, staff, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # the throttle's Redis only; sessions keep the cache
    response = await _admin_login(client, "opal", "opal-pass-1")
    assert response.status_code == 200
    assert "Signing in is unavailable right now" in response.content.decode()
    assert not _signed_in(response)


def test_admin_site_uses_the_throttled_form():
    from django.contrib import admin
    from django.urls import reverse

    from apps.accounts.admin_login import AdminLoginForm

    reverse("admin:login")  # the URLconf (where the form is set) is loaded
    assert admin.site.login_form is AdminLoginForm
