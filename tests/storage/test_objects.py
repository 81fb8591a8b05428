"""The SDK wrapper against the S3 server: presigned URLs used by a real HTTP client."""

from urllib.parse import urlsplit

import pytest

from apps.core.exceptions import Conflict, ServiceUnavailable
from apps.storage import objects
from tests.storage.conftest import MIB, http_get, http_put, random_bytes, sha256


@pytest.fixture
def scratch_bucket(settings):
    """A bucket of its own, removed afterwards (the run's bucket holds the other tests' files)."""
    settings.S3_BUCKET = f"{settings.S3_BUCKET}-wrap"
    objects.ensure_bucket(force=True)
    yield settings.S3_BUCKET
    from apps.storage.client import get_client

    client = get_client()
    for upload_key, upload_id, _ in objects.multipart_uploads(prefix=""):
        objects.abort_multipart(upload_key, upload_id=upload_id)
    for obj in client.list_objects(settings.S3_BUCKET, recursive=True):
        client.remove_object(settings.S3_BUCKET, obj.object_name)
    client.remove_bucket(settings.S3_BUCKET)


def test_ensure_bucket_creates_once(settings):
    from apps.storage.client import get_client

    settings.S3_BUCKET = f"{settings.S3_BUCKET}-ensure"
    try:
        assert objects.ensure_bucket() is True
        assert get_client().bucket_exists(settings.S3_BUCKET)
        assert objects.ensure_bucket() is False  # remembered for the process
        assert objects.ensure_bucket(force=True) is False  # asked again: already there
    finally:
        get_client().remove_bucket(settings.S3_BUCKET)


async def test_presigned_put_then_get_round_trips_bytes(scratch_bucket):
    data = random_bytes(100_000)
    url = await objects.apresign_put("files/t/a.bin", expires_in=60)
    response = await http_put(url, data, {"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    info = await objects.astat("files/t/a.bin")
    assert info is not None and info.size == len(data)
    get_url = await objects.apresign_get(
        "files/t/a.bin", expires_in=60, filename="résumé final.pdf", content_type="application/pdf"
    )
    response = await http_get(get_url)
    assert response.status_code == 200
    assert sha256(response.content) == sha256(data)
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.pdf"


async def test_multipart_parts_are_listed_completed_and_aborted(scratch_bucket):
    data = random_bytes(6 * MIB)
    upload_id = await objects.acreate_multipart("files/t/m.bin", content_type="application/zip")
    urls = await objects.apresign_parts("files/t/m.bin", upload_id=upload_id, part_count=2, expires_in=60)
    assert [urlsplit(u).query.count("partNumber=") for u in urls] == [1, 1]
    assert (await http_put(urls[0], data[: 5 * MIB])).status_code == 200
    parts = await objects.alist_parts("files/t/m.bin", upload_id=upload_id)
    assert parts is not None and [(p.part_number, p.size) for p in parts] == [(1, 5 * MIB)]
    assert (await http_put(urls[1], data[5 * MIB :])).status_code == 200
    parts = await objects.alist_parts("files/t/m.bin", upload_id=upload_id)
    assert parts is not None
    etag = await objects.acomplete_multipart(
        "files/t/m.bin", upload_id=upload_id, parts=[(p.part_number, p.etag) for p in parts]
    )
    assert etag
    info = await objects.astat("files/t/m.bin")
    assert info is not None and info.size == len(data) and info.etag == etag
    # The upload is consumed: listing answers "no such upload", aborting it again is harmless.
    assert await objects.alist_parts("files/t/m.bin", upload_id=upload_id) is None
    await objects.aabort_multipart("files/t/m.bin", upload_id=upload_id)


async def test_complete_with_a_wrong_etag_is_a_conflict(scratch_bucket):
    upload_id = await objects.acreate_multipart("files/t/bad.bin", content_type="application/zip")
    [url] = await objects.apresign_parts("files/t/bad.bin", upload_id=upload_id, part_count=1, expires_in=60)
    assert (await http_put(url, b"tiny")).status_code == 200
    with pytest.raises(Conflict):
        await objects.acomplete_multipart("files/t/bad.bin", upload_id=upload_id, parts=[(1, "0" * 32)])
    await objects.aabort_multipart("files/t/bad.bin", upload_id=upload_id)
    assert await objects.alist_parts("files/t/bad.bin", upload_id=upload_id) is None
    assert [key for key, *_ in objects.multipart_uploads(prefix="files/t/bad")] == []


async def test_stat_of_a_missing_object_is_none_and_remove_is_idempotent(scratch_bucket):
    assert await objects.astat("files/t/none") is None
    await objects.aremove("files/t/none")


async def test_bucket_stats_count_objects_and_bytes(scratch_bucket):
    for name, size in (("x", 10), ("y", 32)):
        await http_put(await objects.apresign_put(f"files/t/{name}", expires_in=60), b"z" * size)
    stats = await objects.abucket_stats()
    assert (stats.name, stats.object_count, stats.total_bytes) == (scratch_bucket, 2, 42)


async def test_unreachable_server_is_service_unavailable(settings):
    settings.S3_ENDPOINT = "127.0.0.1:1"
    settings.HEALTH_CHECK_TIMEOUT = 0.3
    with pytest.raises(ServiceUnavailable) as info:
        await objects.astat("files/x")
    assert "127.0.0.1" not in info.value.message


def test_presigned_urls_use_the_public_endpoint_when_set(settings):
    settings.S3_PUBLIC_ENDPOINT = "files.example.com"
    settings.S3_PUBLIC_SECURE = True
    url = objects.presign_put("files/t/p.bin", expires_in=60)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "files.example.com")
    assert "X-Amz-Signature=" in parts.query
    settings.S3_PUBLIC_ENDPOINT = ""
    parts = urlsplit(objects.presign_put("files/t/p.bin", expires_in=60))
    assert (parts.scheme, parts.netloc) == ("http", settings.S3_ENDPOINT)
