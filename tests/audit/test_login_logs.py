import pytest
from asgiref.sync import sync_to_async

from apps.audit.writer import get_writer
from tests.audit.conftest import amake_user, logged_failed_login, login_logs
from tests.helpers import login

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


@pytest.fixture
async def fresh_throttle():
    """Forget this run's failed-login counters of the test client's address (only those keys: other runs
    share the Redis server)."""
    from apps.core.redis import async_redis, key

    redis = async_redis()
    await redis.delete(key("thr", "ip", "127.0.0.1"))
    yield
    await redis.delete(key("thr", "ip", "127.0.0.1"))


async def _flush():
    assert await sync_to_async(get_writer().flush)(timeout=15)


@pytest.mark.django_db(transaction=True)
async def test_successful_login_produces_login_log(client, audit_db, fresh_throttle):
    user = await amake_user(username="carol", password="carol-pass-1")
    response = await login(client, "carol", "carol-pass-1", user_agent=FIREFOX)
    assert response.status_code == 200
    await _flush()
    [log] = login_logs(audit_db)
    assert log["username"] == "carol"
    assert log["user_id"] == str(user.pk)
    assert log["success"] is True and log["reason"] == "ok"
    assert log["ip"] == "127.0.0.1"
    assert log["user_agent"] == FIREFOX
    assert log["browser"].startswith("Firefox 125") and log["os"] == "Linux" and log["device"] == "PC"
    assert log["request_id"]
    assert log["created_at"].tzinfo is not None


@pytest.mark.django_db(transaction=True)
async def test_failed_logins_produce_login_logs_with_reasons(client, audit_db, fresh_throttle):
    await amake_user(username="dave", password="dave-pass-1")
    await amake_user(username="erin", password="erin-pass-1", is_active=False)
    assert (await login(client, "dave", "wrong-password")).status_code == 401
    assert (await login(client, "nobody", "whatever-1")).status_code == 401
    assert (await login(client, "erin", "erin-pass-1")).status_code == 401
    await _flush()
    logs = {log["username"]: log for log in login_logs(audit_db)}
    assert {name: (log["success"], log["reason"]) for name, log in logs.items()} == {
        "dave": (False, "bad_credentials"),
        "nobody": (False, "bad_credentials"),
        "erin": (False, "inactive"),
    }
    assert logs["nobody"]["user_id"] is None


@pytest.mark.django_db(transaction=True)
async def test_throttled_login_is_logged(client, audit_db, fresh_throttle):
    from django.conf import settings

    await amake_user(username="frank", password="frank-pass-1")
    for _ in range(settings.LOGIN_THROTTLE_USERNAME_LIMIT):
        await login(client, "frank", "wrong-password")
    assert (await login(client, "frank", "frank-pass-1")).status_code == 429
    await _flush()
    reasons = [log["reason"] for log in login_logs(audit_db, username="frank")]
    assert reasons.count("bad_credentials") == settings.LOGIN_THROTTLE_USERNAME_LIMIT
    assert reasons.count("throttled") == 1


def test_login_signal_sent_synchronously_is_logged(audit_db):
    log = logged_failed_login(
        audit_db,
        username="grace",
        reason="challenge_invalid",
        ip="198.51.100.4",
        user_agent="curl/8.0",
        request_id="req-sync",
    )
    assert (log["username"], log["reason"], log["ip"], log["browser"]) == (
        "grace",
        "challenge_invalid",
        "198.51.100.4",
        "curl 8.0",
    )
