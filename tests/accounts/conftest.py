import pytest
from asgiref.sync import sync_to_async

from tests.factories import UserFactory


@pytest.fixture
async def alice():
    return await sync_to_async(UserFactory.create)(username="alice", password="alice-pass-1")


@pytest.fixture
async def admin_user():
    return await sync_to_async(UserFactory.create)(
        username="root", password="root-pass-1", is_superuser=True, is_staff=True
    )
