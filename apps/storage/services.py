"""Writes: start, complete and abort uploads, delete files, and the housekeeping of stale uploads."""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exceptions import Conflict, ServiceUnavailable, ValidationFailed
from apps.core.ids import new_uuid7
from apps.storage import objects
from apps.storage.limits import (
    OBJECT_KEY_PREFIX,
    check_upload_limits,
    clamp_url_ttl,
    expected_part_sizes,
    file_id_of_key,
    object_key_for,
    plan_upload,
    sanitize_filename,
)
from apps.storage.models import StoredFile
from apps.storage.schemas import CompletedPart, UploadIn
from apps.storage.selectors import file_get

logger = logging.getLogger("apps.storage")

# Set on an instance whose object is already gone, so the post-delete safety net does not remove it again.
PURGED_FLAG = "_storage_object_purged"


async def upload_create(*, actor: User, data: UploadIn) -> dict[str, Any]:
    """Check the limits, record a pending file and sign the URL(s) the client uploads to."""
    content_type = check_upload_limits(size=data.size, content_type=data.content_type)
    filename = sanitize_filename(data.filename)
    plan = plan_upload(data.size)
    # Checked on every upload, not once per process: a single PUT is only signed here (no S3 call), so without
    # this an outage or a lost bucket would still answer 201 with a URL nobody can upload to.
    await objects.aensure_bucket(force=True)

    file_id = new_uuid7()
    bucket = objects.bucket_name()
    key = object_key_for(file_id=file_id, filename=filename, created_at=timezone.now())
    ttl = clamp_url_ttl(settings.FILE_UPLOAD_URL_TTL)
    fields: dict[str, Any] = {
        "id": file_id,
        "owner": actor,
        "bucket": bucket,
        "object_key": key,
        "filename": filename,
        "size": data.size,
        "content_type": content_type,
    }

    if plan.strategy == "single":
        await StoredFile.objects.acreate(strategy=StoredFile.Strategy.SINGLE, **fields)
        url = await objects.apresign_put(key, expires_in=ttl, bucket=bucket)
        return {
            "file_id": file_id,
            "strategy": "single",
            "url": url,
            "headers": {"Content-Type": content_type},
            "expires_in": ttl,
        }

    assert plan.part_size is not None
    upload_id = await objects.acreate_multipart(key, content_type=content_type, bucket=bucket)
    try:
        await StoredFile.objects.acreate(
            strategy=StoredFile.Strategy.MULTIPART,
            upload_id=upload_id,
            part_size=plan.part_size,
            part_count=plan.part_count,
            **fields,
        )
    except BaseException:
        await objects.aabort_multipart(key, upload_id=upload_id, bucket=bucket)
        raise
    urls = await objects.apresign_parts(
        key, upload_id=upload_id, part_count=plan.part_count, expires_in=ttl, bucket=bucket
    )
    return {
        "file_id": file_id,
        "strategy": "multipart",
        "upload_id": upload_id,
        "part_size": plan.part_size,
        "parts": [{"part_number": number, "url": url} for number, url in enumerate(urls, start=1)],
        "expires_in": ttl,
    }


async def upload_complete(*, actor: User, file_id: uuid.UUID, parts: list[CompletedPart] | None) -> StoredFile:
    """Mark a file ready once its object exists with exactly the announced size (idempotent)."""
    file = await file_get(actor=actor, file_id=file_id)
    if file.is_ready:
        return file
    if file.strategy == StoredFile.Strategy.MULTIPART:
        try:
            await _assemble_parts(file, parts)
        except Conflict:
            # The upload may already be assembled: by a concurrent request, or by an earlier one that failed
            # before updating the record. The object then exists with the announced size.
            info = await objects.astat(file.object_key, bucket=file.bucket)
            if info is None or info.size != file.size:
                raise
    elif parts:
        raise ValidationFailed(_("parts are only sent for multipart uploads"), loc=["body", "payload", "parts"])

    info = await objects.astat(file.object_key, bucket=file.bucket)
    if info is None:
        raise Conflict(_("the object has not been uploaded"))
    if info.size != file.size:
        await _discard_wrong_object(file)
        raise Conflict(
            _("the uploaded object has %(actual)s bytes, %(announced)s were announced")
            % {"actual": info.size, "announced": file.size}
        )

    now = timezone.now()
    await StoredFile.objects.filter(pk=file.pk, status=StoredFile.Status.PENDING).aupdate(
        status=StoredFile.Status.READY, etag=info.etag, upload_id="", completed_at=now, updated_at=now
    )
    await file.arefresh_from_db()
    return file


async def _assemble_parts(file: StoredFile, announced: list[CompletedPart] | None) -> None:
    """Check the parts the server holds against the plan (and the client's list), then complete the upload."""
    assert file.part_size is not None
    held = await objects.alist_parts(file.object_key, upload_id=file.upload_id, bucket=file.bucket)
    if held is None:
        raise Conflict(_("the multipart upload no longer exists"))
    by_number = {part.part_number: part for part in held}
    expected = expected_part_sizes(size=file.size, part_size=file.part_size)
    missing = [number for number in range(1, len(expected) + 1) if number not in by_number]
    if missing:
        raise Conflict(_("parts not uploaded yet: %(parts)s") % {"parts": missing[:20]})
    unexpected = sorted(set(by_number) - set(range(1, len(expected) + 1)))
    if unexpected:
        raise Conflict(_("parts beyond the announced size: %(parts)s") % {"parts": unexpected[:20]})
    wrong = [number for number, size in enumerate(expected, start=1) if by_number[number].size != size]
    if wrong:
        raise Conflict(_("parts with the wrong size: %(parts)s") % {"parts": wrong[:20]})
    if announced is not None:
        sent = {(part.part_number, part.etag.strip().strip('"')) for part in announced}
        if sent != {(number, part.etag) for number, part in by_number.items()}:
            raise Conflict(_("the parts sent do not match the parts uploaded"))
    await objects.acomplete_multipart(
        file.object_key,
        upload_id=file.upload_id,
        parts=[(number, by_number[number].etag) for number in range(1, len(expected) + 1)],
        bucket=file.bucket,
    )


async def _discard_wrong_object(file: StoredFile) -> None:
    await objects.aremove(file.object_key, bucket=file.bucket)
    if file.strategy == StoredFile.Strategy.MULTIPART:
        # The upload is consumed by completion: nothing can make this record right any more.
        setattr(file, PURGED_FLAG, True)
        await file.adelete()


async def upload_abort(*, actor: User, file_id: uuid.UUID) -> None:
    """Abort an unfinished upload: parts, any object and the record go."""
    file = await file_get(actor=actor, file_id=file_id)
    if file.is_ready:
        raise Conflict(_("the upload is already complete; delete the file instead"))
    await file_purge(file=file)


async def file_delete(*, actor: User, file_id: uuid.UUID) -> None:
    file = await file_get(actor=actor, file_id=file_id)
    await file_purge(file=file)


async def file_purge(*, file: StoredFile) -> None:
    """Remove the object (and an unfinished upload) first, then the record: if S3 fails, the record stays."""
    if file.upload_id:
        await objects.aabort_multipart(file.object_key, upload_id=file.upload_id, bucket=file.bucket)
    await objects.aremove(file.object_key, bucket=file.bucket)
    setattr(file, PURGED_FLAG, True)
    await file.adelete()


def file_purge_sync(*, file: StoredFile) -> None:
    """file_purge for synchronous callers (admin, Celery)."""
    if file.upload_id:
        objects.abort_multipart(file.object_key, upload_id=file.upload_id, bucket=file.bucket)
    objects.remove(file.object_key, bucket=file.bucket)
    setattr(file, PURGED_FLAG, True)
    file.delete()


def pending_uploads_cleanup(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Abort and remove uploads pending longer than FILE_PENDING_TTL, and leftovers no record points to."""
    age = older_than if older_than is not None else timedelta(seconds=settings.FILE_PENDING_TTL)
    cutoff = timezone.now() - age
    removed = failed = 0
    for file in StoredFile.objects.filter(status=StoredFile.Status.PENDING, created_at__lt=cutoff).iterator():
        try:
            file_purge_sync(file=file)
            removed += 1
        except ServiceUnavailable:
            failed += 1
    if failed:
        # S3 is down: the records stay and the next run tries again; skip the orphan sweep too.
        logger.warning("stale uploads left for the next run", extra={"failed": failed, "removed": removed})
        return {"files": removed, "failed": failed, "orphan_uploads": 0, "orphan_objects": 0}
    orphan_uploads = _orphan_uploads_cleanup(cutoff)
    orphan_objects = _orphan_objects_cleanup(cutoff)
    result = {"files": removed, "failed": 0, "orphan_uploads": orphan_uploads, "orphan_objects": orphan_objects}
    if removed or orphan_uploads or orphan_objects:
        logger.info("stale uploads removed", extra=result)
    return result


def _orphan_uploads_cleanup(cutoff: datetime) -> int:
    """Multipart uploads under our prefix that no pending record holds (e.g. a crash right after starting one)."""
    stale = [
        (key, upload_id)
        for key, upload_id, initiated in objects.multipart_uploads(prefix=OBJECT_KEY_PREFIX)
        if initiated is None or initiated < cutoff
    ]
    known = set(
        StoredFile.objects.filter(upload_id__in=[upload_id for _, upload_id in stale]).values_list(
            "upload_id", flat=True
        )
    )
    count = 0
    for key, upload_id in stale:
        if upload_id not in known and file_id_of_key(key) is not None:
            objects.abort_multipart(key, upload_id=upload_id)
            count += 1
    return count


def _orphan_objects_cleanup(cutoff: datetime, batch_size: int = 500) -> int:
    """Objects under our prefix whose record is gone, e.g. PUT through the URL of an upload aborted meanwhile."""
    bucket = objects.bucket_name()
    count = 0
    batch: list[tuple[str, uuid.UUID]] = []

    def flush() -> int:
        ids = {file_id for _, file_id in batch}
        kept = set(StoredFile.objects.filter(bucket=bucket, id__in=ids).values_list("id", flat=True))
        gone = [key for key, file_id in batch if file_id not in kept]
        for key in gone:
            objects.remove(key, bucket=bucket)
        batch.clear()
        return len(gone)

    for info in objects.objects(prefix=OBJECT_KEY_PREFIX):
        file_id = file_id_of_key(info.key)
        if file_id is None or (info.last_modified is not None and info.last_modified >= cutoff):
            continue
        batch.append((info.key, file_id))
        if len(batch) >= batch_size:
            count += flush()
    if batch:
        count += flush()
    return count
