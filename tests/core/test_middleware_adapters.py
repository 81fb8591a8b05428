"""Django's own middleware through the adapters of apps/core/middleware.py: pages keep sessions and CSRF, API
calls skip them, and both keep the security headers."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from apps.accounts.models import User
from apps.core.middleware import is_api_call
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def staff() -> User:
    user: User = await sync_to_async(UserFactory.create)(
        username="staffer", password="staff-pass-1", is_staff=True, is_superuser=True
    )
    return user


def test_api_calls_are_the_api_paths_but_the_docs():
    from django.test import RequestFactory

    factory = RequestFactory()
    assert is_api_call(factory.get("/api/v1/roles"))
    assert is_api_call(factory.post("/api/v1/auth/login"))
    assert not is_api_call(factory.get("/api/v1/docs"))
    assert not is_api_call(factory.get("/api/v1/openapi.json"))
    assert not is_api_call(factory.get("/admin/"))


async def test_security_headers_on_api_calls_and_pages(client):
    for path in ("/api/v1/health", "/admin/login/"):
        response = await client.get(path)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Referrer-Policy"] == "same-origin", path


async def test_api_calls_set_no_session_or_csrf_cookie_and_need_no_csrf_token(staff):
    browser = AsyncClient(enforce_csrf_checks=True)
    response = await browser.post(
        "/api/v1/roles",
        data=json.dumps({"name": "csrf-free", "permissions": []}),
        content_type="application/json",
        headers=await bearer_headers(staff),
    )
    assert response.status_code == 201, response.content
    assert envelope_of(response)["code"] == 0
    assert not response.cookies


async def test_admin_pages_keep_sessions_and_csrf(staff):
    browser = AsyncClient(enforce_csrf_checks=True)
    # Without the CSRF token the admin's login form is refused ...
    refused = await browser.post("/admin/login/", {"username": "staffer", "password": "staff-pass-1"})
    assert refused.status_code == 403
    # ... with it, the login sets a session that the next page is served with.
    page = await browser.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    signed_in = await browser.post(
        "/admin/login/",
        {"username": "staffer", "password": "staff-pass-1", "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies
    assert (await browser.get("/admin/")).status_code == 200


async def test_docs_pages_still_see_the_admin_session(staff, settings):
    settings.API_DOCS_PUBLIC = False
    browser = AsyncClient()
    assert (await browser.get("/api/v1/openapi.json")).status_code in (302, 401, 403)
    await browser.aforce_login(staff)
    schema = await browser.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "paths" in schema.json()
