"""RSA keys: the login (password-encryption) key and the token-signing key, with RFC 7638 key ids.

A setting holds PEM text or a path to a PEM file (PEM text is told by its header, not by slashes). With DEBUG
and no value, a key is generated once and kept in a git-ignored file so restarts and workers agree.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

PEM_HEADER = "-----BEGIN"
MIN_KEY_BITS = 2048


class KeyConfigError(Exception):
    """A key setting is missing or malformed (message is safe to show; it never contains key material)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): required members, lexicographic order, no spaces."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _dev_key_dir() -> Path:
    return Path(settings.DEV_KEYS_DIR) if settings.DEV_KEYS_DIR else Path(settings.BASE_DIR) / ".dev-keys"


def _generate_dev_key(name: str) -> bytes:
    """Create the key file once; concurrent processes race on O_EXCL and all read the winner's key."""
    directory = _dev_key_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{name}.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    return path.read_bytes()


def _pem_bytes(value: str, setting: str) -> bytes:
    text = value.strip()
    if text.startswith(PEM_HEADER):
        return text.replace("\\n", "\n").encode()
    path = Path(text).expanduser()
    if not path.is_file():
        raise KeyConfigError(f"{setting}: not PEM text and no readable file at the given path")
    return path.read_bytes()


def load_private_key(setting: str, dev_name: str) -> rsa.RSAPrivateKey:
    value: str = getattr(settings, setting, "") or ""
    if value:
        pem = _pem_bytes(value, setting)
    elif settings.DEV_KEYS_ALLOWED:
        pem = _generate_dev_key(dev_name)
    else:
        raise KeyConfigError(f"{setting} is not set: give PEM text or a path to a PEM file (required without DEBUG)")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"{setting}: not a readable unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyConfigError(f"{setting}: must be an RSA private key")
    if key.key_size < MIN_KEY_BITS:
        raise KeyConfigError(f"{setting}: RSA keys must have at least {MIN_KEY_BITS} bits")
    return key


def _load_public_key(value: str) -> rsa.RSAPublicKey:
    pem = _pem_bytes(value, "JWT_PREVIOUS_PUBLIC_KEYS")
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        key = serialization.load_pem_private_key(pem, password=None).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyConfigError("JWT_PREVIOUS_PUBLIC_KEYS: only RSA keys are accepted")
    return key


@lru_cache(maxsize=1)
def login_key() -> SigningKey:
    private = load_private_key("LOGIN_RSA_PRIVATE_KEY", "login_rsa")
    return SigningKey(kid=thumbprint(private.public_key()), private_key=private, public_key=private.public_key())


@lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    private = load_private_key("JWT_PRIVATE_KEY", "jwt_signing")
    return SigningKey(kid=thumbprint(private.public_key()), private_key=private, public_key=private.public_key())


@lru_cache(maxsize=1)
def verification_keys() -> dict[str, rsa.RSAPublicKey]:
    """kid -> public key: the current signing key and any previous ones kept for a rotation."""
    keys = {signing_key().kid: signing_key().public_key}
    for value in settings.JWT_PREVIOUS_PUBLIC_KEYS:
        public = _load_public_key(value)
        keys.setdefault(thumbprint(public), public)
    return keys


def jwks() -> dict[str, list[dict[str, str]]]:
    return {
        "keys": [
            {**public_jwk(key), "kid": kid, "use": "sig", "alg": "RS256"} for kid, key in verification_keys().items()
        ]
    }


def login_public_pem() -> str:
    return (
        login_key()
        .public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def reset_key_caches() -> None:
    """Forget loaded keys (tests that switch key settings)."""
    login_key.cache_clear()
    signing_key.cache_clear()
    verification_keys.cache_clear()


def check_keys() -> list[str]:
    """Problems with the key settings, as safe messages (empty when all is well)."""
    problems = []
    for loader in (login_key, signing_key, verification_keys):
        try:
            loader()
        except KeyConfigError as exc:
            problems.append(str(exc))
    return problems
