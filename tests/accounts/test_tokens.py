"""Forged, expired and misused tokens are refused with the right code."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from apps.accounts.keys import signing_key
from apps.accounts.tokens import LEEWAY, encode_token
from tests.conftest import envelope_of
from tests.helpers import tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

INFO = "/api/v1/auth/user/info"


async def _info(client, token, **headers):
    return await client.get(INFO, headers={"Authorization": f"Bearer {token}", **headers})


def _claims(user_id, sid, **overrides):
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": sid,
        "jti": "j1",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "iss": settings.JWT_ISSUER,
    }
    claims.update(overrides)
    return claims


async def test_valid_access_token_is_accepted(client, alice):
    pair = await tokens_for(alice)
    response = await _info(client, pair.access_token)
    assert response.status_code == 200
    assert envelope_of(response)["data"]["username"] == "alice"


async def test_missing_token_is_40100(client):
    response = await client.get(INFO)
    assert response.status_code == 401
    assert envelope_of(response)["code"] == 40100


async def test_wrong_scheme_is_40102(client, alice):
    pair = await tokens_for(alice)
    response = await client.get(INFO, headers={"Authorization": f"Token {pair.access_token}"})
    assert envelope_of(response)["code"] == 40102


async def test_garbage_token_is_40102(client):
    assert envelope_of(await _info(client, "not.a.jwt"))["code"] == 40102


async def test_alg_none_is_refused(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT", "kid": signing_key().kid}).encode())
    body = base64.urlsafe_b64encode(json.dumps(_claims(alice.pk, sid)).encode())
    forged = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_hs256_signed_with_the_public_key_is_refused(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    public_pem = signing_key().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signing_key().kid}).encode())
    payload = base64.urlsafe_b64encode(json.dumps(_claims(alice.pk, sid)).encode())
    signing_input = f"{header.decode().rstrip('=')}.{payload.decode().rstrip('=')}"
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    forged = f"{signing_input}.{signature.decode().rstrip('=')}"
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_token_signed_by_a_foreign_key_is_refused(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(alice.pk, sid), foreign, algorithm="RS256", headers={"kid": signing_key().kid})
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_unknown_kid_is_refused(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    forged = jwt.encode(
        _claims(alice.pk, sid), signing_key().private_key, algorithm="RS256", headers={"kid": "someone-else"}
    )
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_tampered_claims_are_refused(client, alice, admin_user):
    pair = await tokens_for(alice)
    header, payload, signature = pair.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(admin_user.pk)
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{header}.{tampered_payload}.{signature}"
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_token_for_another_users_session_is_revoked(client, alice, admin_user):
    """A validly signed token whose sid belongs to someone else never passes."""
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    crafted = encode_token(user_id=str(admin_user.pk), session_id=sid, typ="access")
    assert envelope_of(await _info(client, crafted))["code"] == 40103


async def test_expired_access_token_is_40101(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    expired = encode_token(user_id=str(alice.pk), session_id=sid, typ="access", ttl=-60)
    response = await _info(client, expired)
    assert response.status_code == 401
    assert envelope_of(response)["code"] == 40101


async def test_an_accepted_token_still_expires_and_keeps_its_type(client, alice, monkeypatch):
    # Verification is remembered per token (apps/accounts/tokens.py); expiry and type are checked on every use.
    pair = await tokens_for(alice)
    assert (await _info(client, pair.access_token)).status_code == 200
    assert envelope_of(await _info(client, pair.refresh_token))["code"] == 40102
    assert envelope_of(await _info(client, pair.refresh_token))["code"] == 40102  # also once its check is cached
    exp = jwt.decode(pair.access_token, options={"verify_signature": False})["exp"]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + (exp - real_time()) + LEEWAY + 1)
    response = await _info(client, pair.access_token)
    assert response.status_code == 401
    assert envelope_of(response)["code"] == 40101


async def test_wrong_issuer_is_refused(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    forged = jwt.encode(
        _claims(alice.pk, sid, iss="elsewhere"),
        signing_key().private_key,
        algorithm="RS256",
        headers={"kid": signing_key().kid},
    )
    assert envelope_of(await _info(client, forged))["code"] == 40102


async def test_refresh_token_is_not_an_access_token(client, alice):
    pair = await tokens_for(alice)
    assert envelope_of(await _info(client, pair.refresh_token))["code"] == 40102


async def test_access_token_is_not_a_refresh_token(client, alice):
    pair = await tokens_for(alice)
    response = await client.post(
        "/api/v1/auth/token/refresh",
        data=json.dumps({"refresh_token": pair.access_token}),
        content_type="application/json",
        headers={"User-Agent": "pytest"},
    )
    assert envelope_of(response)["code"] == 40102


async def test_jwks_lists_the_signing_key_bare(client, alice):
    response = await client.get("/api/v1/auth/jwks.json")
    body = response.json()
    assert set(body) == {"keys"}
    pair = await tokens_for(alice)
    kid = jwt.get_unverified_header(pair.access_token)["kid"]
    jwk = next(k for k in body["keys"] if k["kid"] == kid)
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    assert isinstance(public, rsa.RSAPublicKey)
    assert jwt.decode(pair.access_token, public, algorithms=["RS256"], issuer=settings.JWT_ISSUER)["sub"] == str(
        alice.pk
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(int(time.time()) + 600)},
        {"exp": 1e30},
        {"exp": float(int(time.time()) + 600)},
        {"exp": 2**40},
        {"exp": True},
        {"iat": str(int(time.time()))},
        {"iat": -1},
        {"nbf": str(int(time.time()))},
        {"exp": int(time.time()) + 400 * 24 * 3600},  # longer than any lifetime the server issues
    ],
    ids=["exp-str", "exp-1e30", "exp-float", "exp-2**40", "exp-bool", "iat-str", "iat-negative", "nbf-str", "exp-far"],
)
async def test_real_key_tokens_with_odd_numeric_dates_are_refused(client, alice, overrides):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    key = signing_key()
    forged = jwt.encode(
        _claims(alice.pk, sid, **overrides), key.private_key, algorithm="RS256", headers={"kid": key.kid}
    )
    response = await _info(client, forged)
    assert response.status_code == 401
    assert envelope_of(response)["code"] == 40102


async def test_real_key_token_with_sane_numeric_dates_is_accepted(client, alice):
    pair = await tokens_for(alice)
    sid = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    key = signing_key()
    claims = _claims(alice.pk, sid, nbf=int(time.time()) - 1)
    token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    assert (await _info(client, token)).status_code == 200
