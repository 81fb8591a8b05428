import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from apps.accounts.signals import login_attempted
from tests.conftest import envelope_of
from tests.helpers import encrypt_like_webcrypto, login

pytestmark = pytest.mark.django_db(transaction=True)


async def _key(client):
    return envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]


async def _post_login(client, username, sealed, user_agent="pytest"):
    return await client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": username, "password": sealed}),
        content_type="application/json",
        headers={"User-Agent": user_agent},
    )


async def test_public_key_serves_spki_pem_and_fresh_challenges(client):
    first, second = await _key(client), await _key(client)
    assert first["algorithm"] == "RSA-OAEP-256"
    assert first["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    serialization.load_pem_public_key(first["public_key"].encode())
    assert first["challenge"] != second["challenge"]
    assert first["challenge_expires_in"] == 120
    assert first["kid"]


async def test_login_with_webcrypto_ciphertext_issues_rs256_pair(client, alice):
    response = await login(client, "alice", "alice-pass-1")
    body = envelope_of(response)
    assert response.status_code == 200, body
    data = body["data"]
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 900 and data["refresh_expires_in"] == 604800
    header = jwt.get_unverified_header(data["access_token"])
    assert header["alg"] == "RS256" and header["kid"]
    access = jwt.decode(data["access_token"], options={"verify_signature": False})
    refresh = jwt.decode(data["refresh_token"], options={"verify_signature": False})
    for claims in (access, refresh):
        assert {"sub", "sid", "jti", "typ", "iat", "exp", "iss"} <= set(claims)
        assert claims["sub"] == str(alice.pk)
    assert access["typ"] == "access" and refresh["typ"] == "refresh"
    assert access["sid"] == refresh["sid"]
    assert access["exp"] - access["iat"] == 900


async def test_wrong_password_and_unknown_user_get_the_same_answer(client, alice):
    wrong = await login(client, "alice", "nope")
    unknown = await login(client, "nobody", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert envelope_of(wrong) == envelope_of(unknown)
    assert envelope_of(wrong)["code"] == 40104


async def test_wrong_user_and_wrong_password_take_similar_time(client, alice, settings):
    settings.LOGIN_THROTTLE_USERNAME_LIMIT = settings.LOGIN_THROTTLE_IP_LIMIT = 1000

    async def timed(username):
        started = time.perf_counter()
        await login(client, username, "wrong-password")
        return time.perf_counter() - started

    known, unknown = [], []
    for _ in range(7):  # interleaved, so a busy machine slows both alike; the minimum is the least noisy
        known.append(await timed("alice"))
        unknown.append(await timed("ghost"))
    # Both run the password hasher; an unhashed path would be an order of magnitude faster.
    assert 0.4 < min(known) / min(unknown) < 2.5, (known, unknown)


async def test_inactive_user_cannot_log_in(client, alice):
    alice.is_active = False
    await alice.asave()
    response = await login(client, "alice", "alice-pass-1")
    assert envelope_of(response)["code"] == 40104


async def test_replayed_ciphertext_is_refused(client, alice):
    key = await _key(client)
    sealed = encrypt_like_webcrypto(key["public_key"], "alice-pass-1", key["challenge"])
    assert (await _post_login(client, "alice", sealed)).status_code == 200
    replay = await _post_login(client, "alice", sealed)
    assert replay.status_code == 401
    assert envelope_of(replay)["code"] == 40105


async def test_failed_login_consumes_the_challenge(client, alice):
    key = await _key(client)
    bad = encrypt_like_webcrypto(key["public_key"], "wrong", key["challenge"])
    assert envelope_of(await _post_login(client, "alice", bad))["code"] == 40104
    good_same_challenge = encrypt_like_webcrypto(key["public_key"], "alice-pass-1", key["challenge"])
    assert envelope_of(await _post_login(client, "alice", good_same_challenge))["code"] == 40105


async def test_unknown_challenge_is_refused(client, alice):
    key = await _key(client)
    sealed = encrypt_like_webcrypto(key["public_key"], "alice-pass-1", "made-up-challenge")
    assert envelope_of(await _post_login(client, "alice", sealed))["code"] == 40105


async def test_expired_challenge_is_refused(client, alice, settings):
    settings.LOGIN_CHALLENGE_TTL = 1
    key = await _key(client)
    sealed = encrypt_like_webcrypto(key["public_key"], "alice-pass-1", key["challenge"])
    time.sleep(2.1)
    assert envelope_of(await _post_login(client, "alice", sealed))["code"] == 40105


@pytest.mark.parametrize(
    "scheme",
    [
        padding.PKCS1v15(),
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    ],
    ids=["pkcs1v15", "oaep-sha1"],
)
async def test_other_paddings_are_refused(client, alice, scheme):
    key = await _key(client)
    public_key = serialization.load_pem_public_key(key["public_key"].encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    plaintext = json.dumps({"password": "alice-pass-1", "challenge": key["challenge"]}).encode()
    sealed = base64.b64encode(public_key.encrypt(plaintext, scheme)).decode()
    response = await _post_login(client, "alice", sealed)
    assert response.status_code == 400
    assert envelope_of(response)["code"] == 40000


async def test_plaintext_password_is_refused(client, alice):
    response = await _post_login(client, "alice", "alice-pass-1")
    assert envelope_of(response)["code"] == 40000


async def test_missing_fields_are_validation_errors(client):
    response = await client.post("/api/v1/auth/login", data="{}", content_type="application/json")
    assert response.status_code == 422
    assert {item["loc"][-1] for item in envelope_of(response)["data"]} == {"username", "password"}


async def test_username_throttle_blocks_even_the_right_password(client, alice):
    for _ in range(5):
        assert envelope_of(await login(client, "alice", "wrong"))["code"] == 40104
    blocked = await login(client, "alice", "alice-pass-1")
    assert blocked.status_code == 429
    assert envelope_of(blocked)["code"] == 42900
    assert 0 < int(blocked["Retry-After"]) <= 300


async def test_ip_throttle_counts_failures_across_usernames(client, settings):
    settings.LOGIN_THROTTLE_IP_LIMIT = 3
    for name in ("u1", "u2", "u3"):
        assert envelope_of(await login(client, name, "wrong"))["code"] == 40104
    blocked = await login(client, "u4", "wrong")
    assert envelope_of(blocked)["code"] == 42900
    assert "Retry-After" in blocked


async def test_successful_login_resets_username_failures(client, alice):
    for _ in range(4):
        await login(client, "alice", "wrong")
    assert (await login(client, "alice", "alice-pass-1")).status_code == 200
    for _ in range(4):
        await login(client, "alice", "wrong")
    assert (await login(client, "alice", "alice-pass-1")).status_code == 200


async def test_every_attempt_is_published_with_its_reason(client, alice):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    login_attempted.connect(receiver)
    try:
        await login(client, "alice", "alice-pass-1", user_agent="Mozilla/5.0 test")
        await login(client, "alice", "wrong")
        await login(client, "ghost", "wrong")
    finally:
        login_attempted.disconnect(receiver)
    assert [(s["username"], s["success"], s["reason"]) for s in seen] == [
        ("alice", True, "ok"),
        ("alice", False, "bad_credentials"),
        ("ghost", False, "bad_credentials"),
    ]
    assert seen[0]["user_id"] == str(alice.pk)
    assert seen[0]["user_agent"] == "Mozilla/5.0 test"
    assert seen[0]["ip"] == "127.0.0.1"


async def test_plain_login_is_404_without_debug(client, alice, settings):
    settings.DEBUG = False
    response = await client.post(
        "/api/v1/auth/login/plain",
        data=json.dumps({"username": "alice", "password": "alice-pass-1"}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert envelope_of(response)["code"] == 40400


async def test_plain_login_works_with_debug(client, alice, settings):
    settings.DEBUG = True
    response = await client.post(
        "/api/v1/auth/login/plain",
        data=json.dumps({"username": "alice", "password": "alice-pass-1"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert envelope_of(response)["data"]["token_type"] == "Bearer"


async def test_login_upgrades_an_old_password_hash(client, alice, settings):
    from django.contrib.auth.hashers import make_password

    alice.password = make_password("alice-pass-1", hasher="pbkdf2_sha256")
    await alice.asave()
    assert (await login(client, "alice", "alice-pass-1")).status_code == 200
    await alice.arefresh_from_db()
    assert alice.password.startswith("argon2")
