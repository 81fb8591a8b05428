"""The one module that talks to the S3 server through the minio SDK.

Every operation is a plain blocking function (for the admin, Celery and seeding) with an `a`-prefixed async twin
that runs it in a worker thread, so the event loop never waits on the network. Multipart uploads need the SDK's
private calls (it has no public API for uploads whose parts the client sends); they are used here and nowhere else.
"""

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import urllib3
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from minio.datatypes import Part
from minio.error import MinioException, S3Error

from apps.core.exceptions import Conflict, ServiceUnavailable
from apps.storage.client import get_client, get_presign_client

logger = logging.getLogger("apps.storage")

P = ParamSpec("P")
R = TypeVar("R")

# S3 answers these when the parts sent to CompleteMultipartUpload do not make a valid object.
_COMPLETE_CONFLICTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"}
_ensured_buckets: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class BucketStats:
    name: str
    object_count: int
    total_bytes: int


def _off_loop(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    return sync_to_async(func, thread_sensitive=False)


@contextmanager
def _s3_errors() -> Iterator[None]:
    """Unreachable or refusing S3 server -> 50300; the reason goes to the log, never to the client."""
    try:
        yield
    except S3Error as exc:
        logger.warning("object storage refused a request", extra={"s3_code": exc.code})
        raise ServiceUnavailable(_("object storage is unavailable")) from exc
    except (urllib3.exceptions.HTTPError, MinioException, OSError) as exc:
        logger.warning("object storage unreachable", extra={"error_type": type(exc).__name__})
        raise ServiceUnavailable(_("object storage is unavailable")) from exc


def bucket_name() -> str:
    return str(settings.S3_BUCKET)


def ensure_bucket(*, force: bool = False) -> bool:
    """Create the bucket if it is missing (once per process unless forced); True when it was created."""
    marker = (str(settings.S3_ENDPOINT), bucket_name())
    if marker in _ensured_buckets and not force:
        return False
    client = get_client()
    created = False
    with _s3_errors():
        if not client.bucket_exists(bucket_name()):
            try:
                client.make_bucket(bucket_name())
                created = True
            except S3Error as exc:
                # Another process created it between the two calls.
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
    _ensured_buckets.add(marker)
    if created:
        logger.info("bucket created", extra={"bucket": bucket_name()})
    return created


def presign_put(key: str, *, expires_in: int, bucket: str | None = None) -> str:
    with _s3_errors():
        return get_presign_client().presigned_put_object(
            bucket or bucket_name(), key, expires=timedelta(seconds=expires_in)
        )


def create_multipart(key: str, *, content_type: str, bucket: str | None = None) -> str:
    """Start a multipart upload; returns its upload id."""
    with _s3_errors():
        return get_client()._create_multipart_upload(bucket or bucket_name(), key, {"Content-Type": content_type})


def presign_parts(
    key: str, *, upload_id: str, part_count: int, expires_in: int, bucket: str | None = None
) -> list[str]:
    """One presigned PUT per part number, 1..part_count."""
    client = get_presign_client()
    expires = timedelta(seconds=expires_in)
    with _s3_errors():
        return [
            client.get_presigned_url(
                "PUT",
                bucket or bucket_name(),
                key,
                expires=expires,
                extra_query_params={"partNumber": str(number), "uploadId": upload_id},
            )
            for number in range(1, part_count + 1)
        ]


def list_parts(key: str, *, upload_id: str, bucket: str | None = None) -> list[PartInfo] | None:
    """The parts the server holds for an upload, by part number; None when the upload does not exist."""
    client = get_client()
    parts: list[PartInfo] = []
    marker: str | None = None
    with _s3_errors():
        while True:
            try:
                result = client._list_parts(bucket or bucket_name(), key, upload_id, part_number_marker=marker)
            except S3Error as exc:
                if exc.code == "NoSuchUpload":
                    return None
                raise
            parts.extend(PartInfo(p.part_number, p.etag, p.size or 0) for p in result.parts)
            if not result.is_truncated or not result.next_part_number_marker:
                break
            marker = result.next_part_number_marker
    return sorted(parts, key=lambda p: p.part_number)


def complete_multipart(key: str, *, upload_id: str, parts: list[tuple[int, str]], bucket: str | None = None) -> str:
    """Assemble the object from (part_number, etag) pairs; Conflict when S3 refuses the parts."""
    with _s3_errors():
        try:
            result = get_client()._complete_multipart_upload(
                bucket or bucket_name(), key, upload_id, [Part(number, etag) for number, etag in parts]
            )
        except S3Error as exc:
            if exc.code in _COMPLETE_CONFLICTS:
                raise Conflict(_("the uploaded parts do not form the announced file")) from exc
            raise
    return (result.etag or "").strip('"')


def abort_multipart(key: str, *, upload_id: str, bucket: str | None = None) -> None:
    """Abort an upload and free its parts; an upload that is already gone is fine."""
    with _s3_errors():
        try:
            get_client()._abort_multipart_upload(bucket or bucket_name(), key, upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":
                raise


def stat(key: str, *, bucket: str | None = None) -> ObjectInfo | None:
    with _s3_errors():
        try:
            result = get_client().stat_object(bucket or bucket_name(), key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
    return ObjectInfo(
        key=key,
        size=int(result.size or 0),
        etag=(result.etag or "").strip('"'),
        content_type=result.content_type,
        last_modified=result.last_modified,
    )


def remove(key: str, *, bucket: str | None = None) -> None:
    """Delete an object (deleting a missing one is not an error in S3)."""
    with _s3_errors():
        get_client().remove_object(bucket or bucket_name(), key)


def presign_get(key: str, *, expires_in: int, filename: str, content_type: str, bucket: str | None = None) -> str:
    """A download URL whose response carries the recorded type and name, as an attachment: whatever bytes
    were uploaded, a browser saves them rather than rendering them from the storage origin."""
    with _s3_errors():
        return get_presign_client().presigned_get_object(
            bucket or bucket_name(),
            key,
            expires=timedelta(seconds=expires_in),
            response_headers={
                "response-content-type": content_type,
                "response-content-disposition": content_disposition_header(True, filename) or "attachment",
            },
        )


def bucket_stats() -> BucketStats:
    count = total = 0
    client = get_client()
    with _s3_errors():
        if client.bucket_exists(bucket_name()):
            for obj in client.list_objects(bucket_name(), recursive=True):
                count += 1
                total += int(obj.size or 0)
    return BucketStats(name=bucket_name(), object_count=count, total_bytes=total)


def multipart_uploads(*, prefix: str) -> Iterator[tuple[str, str, datetime | None]]:
    """(key, upload_id, initiated) of the unfinished multipart uploads under a prefix."""
    client = get_client()
    key_marker: str | None = None
    with _s3_errors():
        while True:
            result = client._list_multipart_uploads(bucket_name(), prefix=prefix, key_marker=key_marker)
            for upload in result.uploads:
                if upload.object_name and upload.upload_id:
                    yield upload.object_name, upload.upload_id, upload.initiated_time
            # Paging by key only: the SDK does not parse NextUploadIdMarker, and our keys hold one upload each.
            if not result.is_truncated or not result.next_key_marker:
                break
            key_marker = result.next_key_marker


def objects(*, prefix: str) -> Iterator[ObjectInfo]:
    client = get_client()
    with _s3_errors():
        for obj in client.list_objects(bucket_name(), prefix=prefix, recursive=True):
            if obj.object_name is None or obj.is_dir:
                continue
            yield ObjectInfo(
                key=obj.object_name,
                size=int(obj.size or 0),
                etag=(obj.etag or "").strip('"'),
                content_type=None,
                last_modified=obj.last_modified,
            )


aensure_bucket = _off_loop(ensure_bucket)
apresign_put = _off_loop(presign_put)
acreate_multipart = _off_loop(create_multipart)
apresign_parts = _off_loop(presign_parts)
alist_parts = _off_loop(list_parts)
acomplete_multipart = _off_loop(complete_multipart)
aabort_multipart = _off_loop(abort_multipart)
astat = _off_loop(stat)
aremove = _off_loop(remove)
apresign_get = _off_loop(presign_get)
abucket_stats = _off_loop(bucket_stats)
