"""Housekeeping of uploads left pending, and of leftovers no record points to."""

import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.storage import objects
from apps.storage.limits import object_key_for
from apps.storage.models import StoredFile
from apps.storage.schemas import UploadIn
from apps.storage.services import pending_uploads_cleanup, upload_complete, upload_create
from apps.storage.tasks import cleanup_pending_uploads
from tests.storage.conftest import MIB, create_user, http_put, random_bytes

pytestmark = pytest.mark.django_db(transaction=True)

cleanup = sync_to_async(pending_uploads_cleanup)


async def make_user(name="owner"):
    return await sync_to_async(create_user)(username=name)


async def start(user, *, size, name="f.bin", content_type="application/octet-stream"):
    return await upload_create(actor=user, data=UploadIn(filename=name, size=size, content_type=content_type))


async def age(file_id, *, hours):
    await StoredFile.objects.filter(pk=file_id).aupdate(created_at=timezone.now() - timedelta(hours=hours))


async def test_cleanup_aborts_and_removes_stale_pending_uploads_only(settings):
    settings.FILE_PENDING_TTL = 3600
    user = await make_user()

    stale_single = await start(user, size=4)
    await http_put(stale_single["url"], b"half")  # uploaded but never completed
    stale_multi = await start(user, size=9 * MIB)
    await http_put(stale_multi["parts"][0]["url"], random_bytes(5 * MIB))
    fresh = await start(user, size=4)
    old_ready = await start(user, size=5)
    await http_put(old_ready["url"], b"ready")
    await upload_complete(actor=user, file_id=old_ready["file_id"], parts=None)
    for ticket in (stale_single, stale_multi, old_ready):
        await age(ticket["file_id"], hours=2)
    keys = {
        t["file_id"]: (await StoredFile.objects.aget(pk=t["file_id"])).object_key
        for t in (stale_single, stale_multi, old_ready)
    }

    result = await cleanup()

    assert result["files"] == 2 and result["failed"] == 0
    remaining = {f.id async for f in StoredFile.objects.all()}
    assert remaining == {fresh["file_id"], old_ready["file_id"]}
    assert await objects.astat(keys[stale_single["file_id"]]) is None
    assert await objects.alist_parts(keys[stale_multi["file_id"]], upload_id=stale_multi["upload_id"]) is None
    ready_object = await objects.astat(keys[old_ready["file_id"]])
    assert ready_object is not None and ready_object.size == 5
    assert (await cleanup())["files"] == 0  # nothing left to do


async def test_cleanup_removes_leftovers_without_a_record(settings):
    user = await make_user()
    # A client keeps using the URL of an upload that was aborted meanwhile: bytes land with no record.
    aborted = await start(user, size=3)
    record = await StoredFile.objects.aget(pk=aborted["file_id"])
    await record.adelete()
    assert (await http_put(aborted["url"], b"abc")).status_code == 200
    # A crash right after S3 started a multipart upload, before the record was written.
    orphan_key = object_key_for(file_id=uuid.uuid4(), filename="x.zip", created_at=timezone.now())
    orphan_upload = await objects.acreate_multipart(orphan_key, content_type="application/zip")
    # Our own live files and keys of other tools in the bucket are left alone.
    kept = await start(user, size=4)
    await http_put(kept["url"], b"kept")
    await upload_complete(actor=user, file_id=kept["file_id"], parts=None)
    foreign = await objects.apresign_put("elsewhere/readme.txt", expires_in=60)
    await http_put(foreign, b"not ours")

    result = await cleanup(older_than=timedelta(0))

    assert result["orphan_objects"] >= 1 and result["orphan_uploads"] >= 1
    assert await objects.astat(record.object_key) is None
    assert await objects.alist_parts(orphan_key, upload_id=orphan_upload) is None
    kept_record = await StoredFile.objects.aget(pk=kept["file_id"])
    assert await objects.astat(kept_record.object_key) is not None
    assert await objects.astat("elsewhere/readme.txt") is not None
    await objects.aremove("elsewhere/readme.txt")


async def test_cleanup_keeps_records_when_object_storage_is_down(settings):
    user = await make_user()
    ticket = await start(user, size=4)
    await age(ticket["file_id"], hours=48)
    settings.S3_ENDPOINT = "127.0.0.1:1"
    settings.HEALTH_CHECK_TIMEOUT = 0.3

    result = await cleanup()

    assert result == {"files": 0, "failed": 1, "orphan_uploads": 0, "orphan_objects": 0}
    assert await StoredFile.objects.filter(pk=ticket["file_id"]).aexists()


async def test_celery_task_runs_the_cleanup(settings):
    settings.FILE_PENDING_TTL = 60
    user = await make_user()
    ticket = await start(user, size=4)
    await age(ticket["file_id"], hours=1)
    assert cleanup_pending_uploads.name == "storage.cleanup_pending_uploads"

    outcome = await sync_to_async(cleanup_pending_uploads.apply)()

    assert outcome.successful()
    assert isinstance(outcome.result, dict) and outcome.result["files"] == 1
    assert not await StoredFile.objects.filter(pk=ticket["file_id"]).aexists()


async def test_deleting_the_owner_removes_their_objects():
    user = await make_user("leaving")
    ticket = await start(user, size=3)
    await http_put(ticket["url"], b"bye")
    file = await upload_complete(actor=user, file_id=ticket["file_id"], parts=None)
    assert await objects.astat(file.object_key) is not None

    await sync_to_async(user.delete)()

    assert not await StoredFile.objects.filter(pk=file.id).aexists()
    assert await objects.astat(file.object_key) is None
