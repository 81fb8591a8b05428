"""Signing in on the admin's login page, opened directly (no ?next=), lands on the admin index."""

import pytest
from django.test import AsyncClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def test_direct_admin_sign_in_lands_on_the_index():
    from asgiref.sync import sync_to_async

    await sync_to_async(UserFactory.create)(username="direct", password="direct-pass-123", is_staff=True)
    client = AsyncClient()
    page = await client.get("/admin/login/")
    assert page.status_code == 200
    response = await client.post("/admin/login/", {"username": "direct", "password": "direct-pass-123"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
