"""One-time login challenges and RSA-OAEP(SHA-256) decryption of `{password, challenge}` payloads."""

import base64
import binascii
import json
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.accounts.keys import login_key
from apps.core.exceptions import BadRequest, ChallengeInvalid
from apps.core.redis import async_redis, key

_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
MAX_CIPHERTEXT_CHARS = 2048


async def challenge_issue() -> str:
    challenge = secrets.token_urlsafe(32)
    await async_redis().set(key("chal", challenge), "1", ex=settings.LOGIN_CHALLENGE_TTL)
    return challenge


async def challenge_consume(challenge: str) -> None:
    """Burn the challenge; unknown, expired or already used challenges fail with 40105."""
    if not challenge or len(challenge) > 128 or not await async_redis().delete(key("chal", challenge)):
        raise ChallengeInvalid()


def decrypt_secret(ciphertext_b64: str) -> tuple[str, str]:
    """Decrypt base64(RSA-OAEP-SHA256(JSON {password, challenge})) -> (password, challenge).

    PKCS#1 v1.5 and OAEP-SHA1 ciphertexts do not decrypt under these parameters and are refused.
    """
    if not isinstance(ciphertext_b64, str) or len(ciphertext_b64) > MAX_CIPHERTEXT_CHARS:
        raise BadRequest(_("password must be RSA-OAEP-256 encrypted with the served key"))
    try:
        ciphertext = base64.b64decode(ciphertext_b64, validate=True)
        plaintext = login_key().private_key.decrypt(ciphertext, _OAEP)
        document = json.loads(plaintext.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(_("password must be RSA-OAEP-256 encrypted with the served key")) from exc
    if not isinstance(document, dict):
        raise BadRequest(_("encrypted payload must be a JSON object {password, challenge}"))
    password, challenge = document.get("password"), document.get("challenge")
    if not isinstance(password, str) or not isinstance(challenge, str):
        raise BadRequest(_("encrypted payload must be a JSON object {password, challenge}"))
    return password, challenge


async def decrypt_with_challenge(*ciphertexts: str) -> list[str]:
    """Decrypt one or more secrets sealed with the same challenge, and burn that challenge once."""
    decrypted = [decrypt_secret(c) for c in ciphertexts]
    challenges = {challenge for _, challenge in decrypted}
    if len(challenges) != 1:
        raise ChallengeInvalid()
    await challenge_consume(challenges.pop())
    return [password for password, _ in decrypted]
