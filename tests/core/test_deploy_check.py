"""`manage.py check --deploy` is clean with production settings, and the HTTPS settings behind it work."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.middleware import clickjacking, csrf, security
from django.test import Client
from django.utils.module_loading import import_string

from apps.core.paths import API_ROOT

ROOT = Path(__file__).resolve().parents[2]
STOCK_MIDDLEWARE = {
    "security.W001": security.SecurityMiddleware,
    "security.W002": clickjacking.XFrameOptionsMiddleware,
    "security.W003": csrf.CsrfViewMiddleware,
}
# What production settings exempt from the HTTPS redirect (checked against them below).
PRODUCTION_REDIRECT_EXEMPT = [r"^api/v1/health(/|$)"]
# Django's deploy checks look for the stock middleware by dotted path; with our adapters swapped for them,
# the checks that depend on them (HSTS, SSL redirect, X-Frame-Options, CSRF cookie) judge our settings.
STOCK_PATHS_PROBE = """
import django
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
django.setup()
from django.utils.module_loading import import_string
# Each adapter of apps/core/middleware.py in place of the Django middleware it subclasses.
stock = {}
for path in settings.MIDDLEWARE:
    for base in import_string(path).__mro__[1:]:
        if base.__module__.startswith("django.") and base.__name__ == path.rsplit(".", 1)[1]:
            stock[path] = f"{base.__module__}.{base.__name__}"
            break
assert len(stock) >= 3, stock
with override_settings(MIDDLEWARE=[stock.get(m, m) for m in settings.MIDDLEWARE], SILENCED_SYSTEM_CHECKS=[]):
    call_command("check", deploy=True, fail_level="WARNING")
print("stock-paths-ok")
"""


def _pem(path: Path) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


@pytest.fixture(scope="module")
def production_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    keys = tmp_path_factory.mktemp("deploy-keys")
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOT_ENV": "false",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "api.example.com",
        "LOGIN_RSA_PRIVATE_KEY": _pem(keys / "login.pem"),
        "JWT_PRIVATE_KEY": _pem(keys / "jwt.pem"),
        "LOG_LEVEL": "ERROR",
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")


def test_deploy_check_is_clean_with_production_settings(production_env):
    result = _deploy_check(production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_is_clean_with_the_stock_middleware_paths(production_env):
    result = _run(production_env, "-c", STOCK_PATHS_PROBE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stock-paths-ok" in result.stdout


@pytest.mark.parametrize(
    ("override", "warning"),
    [
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"DJANGO_SECURE_COOKIES": "false"}, "security.W012"),
        ({"DJANGO_SECURE_HSTS_PRELOAD": "false"}, "security.W021"),
        ({"DJANGO_SECRET_KEY": "short-and-weak"}, "security.W009"),
    ],
)
def test_deploy_check_fails_when_a_production_default_is_turned_off(production_env, override, warning):
    result = _run({**production_env, **override}, "-c", STOCK_PATHS_PROBE)
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_silenced_middleware_warnings_are_covered_by_our_adapters():
    # The silenced warnings say "stock middleware missing"; each adapter in MIDDLEWARE is that middleware.
    assert set(django_settings.SILENCED_SYSTEM_CHECKS) >= set(STOCK_MIDDLEWARE)
    installed = [import_string(path) for path in django_settings.MIDDLEWARE]
    for warning, stock in STOCK_MIDDLEWARE.items():
        assert any(issubclass(m, stock) for m in installed), f"{warning}: no subclass of {stock.__name__}"


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = PRODUCTION_REDIRECT_EXEMPT
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_production_redirect_exempts_exactly_the_health_routes(production_env):
    probe = "import json, django; from django.conf import settings; django.setup(); print(json.dumps(settings.{}))"
    result = _run(production_env, "-c", probe.format("SECURE_REDIRECT_EXEMPT"))
    assert result.returncode == 0, result.stderr
    exempt = json.loads(result.stdout.strip().splitlines()[-1])
    assert exempt == PRODUCTION_REDIRECT_EXEMPT

    def exempted(path: str) -> bool:
        return any(re.search(pattern, path.lstrip("/")) for pattern in exempt)

    assert exempted(f"{API_ROOT}/health") and exempted(f"{API_ROOT}/health/ready")
    assert not exempted(f"{API_ROOT}/healthz") and not exempted(f"{API_ROOT}/auth/login") and not exempted("/admin/")


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_but_probes_are_answered(https_only):
    client = Client()  # built after the override: SecurityMiddleware reads the settings when it is created
    redirected = client.get(f"{API_ROOT}/auth/user/info")
    assert redirected.status_code == 301
    assert redirected["Location"] == f"https://testserver{API_ROOT}/auth/user/info"
    probe = client.get(f"{API_ROOT}/health")
    assert probe.status_code == 200 and "Strict-Transport-Security" not in probe  # HSTS only over HTTPS


@pytest.mark.django_db
def test_https_through_the_proxy_gets_hsts_and_no_redirect(https_only):
    client = Client()
    response = client.get(f"{API_ROOT}/health", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # Behind the proxy an API call is served, not redirected (401: no token).
    assert client.get(f"{API_ROOT}/auth/user/info", HTTP_X_FORWARDED_PROTO="https").status_code == 401
