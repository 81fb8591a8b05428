import hashlib
import json
import os
from typing import Any, cast

import httpx
import pytest
from asgiref.sync import sync_to_async

from apps.accounts.models import User
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant

MIB = 1024 * 1024

FILE_CODES = (
    "POST:/api/v1/files/uploads",
    "POST:/api/v1/files/{file_id}/complete",
    "DELETE:/api/v1/files/{file_id}/upload",
    "GET:/api/v1/files",
    "GET:/api/v1/files/{file_id}",
    "GET:/api/v1/files/{file_id}/download",
    "DELETE:/api/v1/files/{file_id}",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


async def http_put(url: str, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """What a browser does with a presigned URL: a plain PUT straight to the S3 server."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.put(url, content=data, headers=headers or {})


async def http_get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.get(url)


def create_user(**fields: Any) -> User:
    """UserFactory with its real return type (factory_boy's own typing says otherwise)."""
    return cast(User, UserFactory.create(**fields))


async def signed_in_user(*codes: str, **fields: Any) -> tuple[User, dict[str, str]]:
    user = await sync_to_async(create_user)(**fields)
    if codes:
        await grant(user, *codes)
    return user, await bearer_headers(user)


@pytest.fixture
async def alice():
    return await signed_in_user(*FILE_CODES, username="alice")


@pytest.fixture
async def bob():
    return await signed_in_user(*FILE_CODES, username="bob")


async def call(client: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return await getattr(client, method.lower())(f"/api/v1{path}", **kwargs)
