"""S3 unavailable or without its bucket: uploads fail closed (50300 with Retry-After, never a 201 with a URL
nobody can upload to) and readiness says so. A closed port stands for a stopped server; a bucket created and
deleted on the real S3 server for one that lost its data (tests/faults stops and restarts a real one)."""

import json
import socket
import uuid

import pytest
from asgiref.sync import sync_to_async

from apps.storage.client import get_client
from tests.conftest import envelope_of
from tests.storage.conftest import signed_in_user

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"filename": "a.txt", "size": 10, "content_type": "text/plain"}  # one presigned PUT: no S3 call to sign


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_unavailable(response) -> None:
    assert (response.status_code, envelope_of(response)["code"]) == (503, 50300), response.content
    assert int(response["Retry-After"]) > 0
    assert "127.0.0.1" not in response.content.decode()  # no endpoint or error text


async def _upload(client, headers, body=SMALL):
    return await client.post(
        "/api/v1/files/uploads", data=json.dumps(body), content_type="application/json", headers=headers
    )


async def test_s3_down_every_storage_answer_is_50300_with_retry_after(client, settings):
    _user, headers = await signed_in_user(is_superuser=True, username="s3-down")
    settings.S3_ENDPOINT = f"127.0.0.1:{_closed_port()}"
    _assert_unavailable(await _upload(client, headers))
    _assert_unavailable(await _upload(client, headers, {**SMALL, "size": 64 * 1024 * 1024}))  # multipart
    _assert_unavailable(await client.get("/api/v1/storage/buckets", headers=headers))
    ready = await client.get("/api/v1/health/ready")
    _assert_unavailable(ready)
    assert envelope_of(ready)["data"]["checks"]["object_storage"] == "error"
    assert (await client.get("/api/v1/files", headers=headers)).status_code == 200  # listing is PostgreSQL only


async def test_a_lost_bucket_fails_readiness_until_an_upload_recreates_it(client, settings):
    _user, headers = await signed_in_user(is_superuser=True, username="s3-lost")
    settings.S3_BUCKET = f"lost-{uuid.uuid4().hex[:12]}"
    s3 = get_client()
    await sync_to_async(s3.make_bucket)(settings.S3_BUCKET)
    assert envelope_of(await client.get("/api/v1/health/ready"))["data"]["checks"]["object_storage"] == "ok"
    await sync_to_async(s3.remove_bucket)(settings.S3_BUCKET)  # the server lost it (an in-memory one restarted)
    try:
        ready = await client.get("/api/v1/health/ready")
        _assert_unavailable(ready)
        assert envelope_of(ready)["data"]["checks"]["object_storage"] == "error"
        created = await _upload(client, headers)  # checks the bucket every time, so it comes back here
        assert created.status_code == 201
        assert await sync_to_async(s3.bucket_exists)(settings.S3_BUCKET)
        assert (await client.get("/api/v1/health/ready")).status_code == 200
    finally:
        if await sync_to_async(s3.bucket_exists)(settings.S3_BUCKET):
            await sync_to_async(s3.remove_bucket)(settings.S3_BUCKET)
