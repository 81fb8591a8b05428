"""Key settings: PEM text or path, dev keys only with DEBUG, production refuses to start without keys."""

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.accounts import keys

ROOT = Path(__file__).resolve().parents[2]


def _pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def fresh_keys():
    keys.reset_key_caches()
    yield
    keys.reset_key_caches()


def _run(args, env):
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOT_ENV": "false",
        "DJANGO_SECRET_KEY": "z" * 50,
        "DJANGO_DEBUG": "false",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_check_refuses_missing_keys():
    result = _run(["manage.py", "check"], {})
    assert result.returncode != 0
    assert "LOGIN_RSA_PRIVATE_KEY is not set" in result.stderr
    assert "JWT_PRIVATE_KEY is not set" in result.stderr


def test_production_asgi_start_refuses_missing_keys():
    result = _run(["-c", "import config.asgi"], {})
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr and "JWT_PRIVATE_KEY" in result.stderr


def test_production_refuses_malformed_key_without_leaking_it():
    result = _run(
        ["manage.py", "check"],
        {
            "LOGIN_RSA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nsecretgarbage\n",
            "JWT_PRIVATE_KEY": "/nonexistent/key.pem",
        },
    )
    assert result.returncode != 0
    assert "LOGIN_RSA_PRIVATE_KEY: not a readable unencrypted PEM private key" in result.stderr
    assert "JWT_PRIVATE_KEY: not PEM text and no readable file" in result.stderr
    assert "secretgarbage" not in result.stderr


def test_production_starts_with_keys_from_text_and_path(tmp_path):
    login_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "jwt.pem"
    path.write_text(_pem(signing))
    result = _run(["manage.py", "check"], {"LOGIN_RSA_PRIVATE_KEY": _pem(login_key), "JWT_PRIVATE_KEY": str(path)})
    assert result.returncode == 0, result.stderr


def test_short_keys_are_refused(settings, fresh_keys):
    settings.JWT_PRIVATE_KEY = _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    assert any("at least 2048 bits" in problem for problem in keys.check_keys())


def test_pem_text_with_escaped_newlines_is_accepted(settings, fresh_keys):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.JWT_PRIVATE_KEY = _pem(key).replace("\n", "\\n")
    assert keys.signing_key().public_key.public_numbers() == key.public_key().public_numbers()


def test_kid_is_the_rfc7638_thumbprint(settings, fresh_keys):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.JWT_PRIVATE_KEY = _pem(key)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":")).encode()
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    assert keys.signing_key().kid == expected


def test_previous_public_keys_stay_verifiable_and_appear_in_jwks(settings, fresh_keys):
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.JWT_PREVIOUS_PUBLIC_KEYS = [
        old.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    ]
    old_kid = keys.thumbprint(old.public_key())
    assert old_kid in {k["kid"] for k in keys.jwks()["keys"]}
    assert old_kid in keys.verification_keys()


def test_dev_key_is_generated_once_and_reused(settings, fresh_keys, tmp_path):
    settings.DEV_KEYS_DIR = str(tmp_path)
    settings.JWT_PRIVATE_KEY = ""
    first = keys.signing_key().kid
    keys.reset_key_caches()
    assert keys.signing_key().kid == first
    assert (tmp_path / "jwt_signing.pem").stat().st_mode & 0o777 == 0o600
