"""The login throttle holds against attempts that arrive at once: each takes its slot before its password is
checked, so at most the limit of them are verified however many run concurrently (real Redis, real Argon2)."""

import asyncio
import json
from collections import Counter

import pytest

from apps.accounts.signals import login_attempted
from tests.conftest import envelope_of
from tests.helpers import encrypt_like_webcrypto

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _behind_a_proxy(settings):
    """The test client's peer is 127.0.0.1; as a trusted proxy its X-Forwarded-For names each attempt's ip."""
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


ATTEMPTS = 60


async def _sealed_attempts(client, usernames, password):
    """Fresh challenges fetched first, so every attempt below is sent at the same moment (the barrier)."""
    sealed = []
    for username in usernames:
        key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
        sealed.append((username, encrypt_like_webcrypto(key["public_key"], password, key["challenge"])))
    return sealed


async def _send_at_once(client, sealed, ip="203.0.113.7"):
    barrier = asyncio.Barrier(len(sealed))

    async def attempt(username, password):
        await barrier.wait()
        return await client.post(
            "/api/v1/auth/login",
            data=json.dumps({"username": username, "password": password}),
            content_type="application/json",
            headers={"User-Agent": "pytest", "X-Forwarded-For": ip},
        )

    return await asyncio.gather(*(attempt(u, p) for u, p in sealed))


def _verified_reasons():
    """Reasons of the attempts whose password was checked (the login_attempted signal, one per attempt)."""
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs["reason"])

    login_attempted.connect(receiver, weak=False, dispatch_uid="test-throttle-concurrency")
    return seen, receiver


async def test_concurrent_wrong_passwords_for_one_user_verify_at_most_the_limit(client, alice, settings):
    settings.LOGIN_THROTTLE_IP_LIMIT = 10_000
    seen, receiver = _verified_reasons()
    try:
        responses = await _send_at_once(client, await _sealed_attempts(client, ["alice"] * ATTEMPTS, "wrong"))
    finally:
        login_attempted.disconnect(receiver, dispatch_uid="test-throttle-concurrency")
    codes = Counter(envelope_of(r)["code"] for r in responses)
    assert codes[40104] == settings.LOGIN_THROTTLE_USERNAME_LIMIT
    assert codes[42900] == ATTEMPTS - settings.LOGIN_THROTTLE_USERNAME_LIMIT
    assert all("Retry-After" in r for r in responses if r.status_code == 429)
    assert Counter(seen)["bad_credentials"] == settings.LOGIN_THROTTLE_USERNAME_LIMIT
    # Refused attempts gave their slots back: the counter holds exactly the failures, so the limit still holds.
    later = await _send_at_once(client, await _sealed_attempts(client, ["alice"], "alice-pass-1"))
    assert envelope_of(later[0])["code"] == 42900


async def test_concurrent_attempts_from_one_ip_verify_at_most_the_ip_limit(client, settings):
    settings.LOGIN_THROTTLE_IP_LIMIT = 20
    usernames = [f"nobody-{i}" for i in range(ATTEMPTS)]
    responses = await _send_at_once(client, await _sealed_attempts(client, usernames, "wrong"))
    codes = Counter(envelope_of(r)["code"] for r in responses)
    assert codes[40104] == 20
    assert codes[42900] == ATTEMPTS - 20


async def test_success_gives_the_ip_slot_back(client, alice, settings):
    settings.LOGIN_THROTTLE_IP_LIMIT = 3
    for _ in range(5):  # more successes than the ip limit: successes are not failures
        (response,) = await _send_at_once(client, await _sealed_attempts(client, ["alice"], "alice-pass-1"))
        assert response.status_code == 200
    wrong = await _send_at_once(client, await _sealed_attempts(client, ["a", "b", "c", "d"], "wrong"))
    assert [envelope_of(r)["code"] for r in wrong].count(40104) == 3
