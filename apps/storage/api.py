import uuid
from typing import Any, cast

from django.http import HttpRequest
from ninja import Body, Query, Router
from ninja.responses import Status

from apps.accounts.models import User
from apps.core.envelope import also_answers
from apps.core.pagination import Page, PageIn
from apps.storage.models import StoredFile
from apps.storage.schemas import (
    BucketOut,
    CompleteIn,
    DownloadIn,
    DownloadOut,
    FileFilter,
    FileOut,
    MultipartUploadOut,
    SingleUploadOut,
    UploadIn,
)
from apps.storage.selectors import bucket_list, file_download_url, file_get, file_list
from apps.storage.services import file_delete, upload_abort, upload_complete, upload_create

router = Router(tags=["files"])


def _actor(request: HttpRequest) -> User:
    return cast(User, request.auth)  # type: ignore[attr-defined]  # set by the API's auth class


@router.post("/files/uploads", response={201: SingleUploadOut | MultipartUploadOut}, openapi_extra=also_answers(415))
async def create_upload(request: HttpRequest, payload: UploadIn) -> Status[dict[str, Any]]:
    """Start an upload: one presigned PUT below FILE_MULTIPART_THRESHOLD, else one presigned PUT per part."""
    return Status(201, await upload_create(actor=_actor(request), data=payload))


@router.post("/files/{file_id}/complete", response=FileOut, openapi_extra=also_answers(409))
async def complete_upload(
    request: HttpRequest, file_id: uuid.UUID, payload: Body[CompleteIn | None] = None
) -> StoredFile:
    """Verify the object exists with the announced size and mark the file ready."""
    return await upload_complete(actor=_actor(request), file_id=file_id, parts=payload.parts if payload else None)


@router.delete("/files/{file_id}/upload", openapi_extra=also_answers(409))
async def abort_upload(request: HttpRequest, file_id: uuid.UUID) -> None:
    """Abort an unfinished upload; the record and any uploaded bytes go."""
    await upload_abort(actor=_actor(request), file_id=file_id)


@router.get("/files", response=Page[FileOut])
async def list_files(request: HttpRequest, filters: Query[FileFilter], page: Query[PageIn]) -> dict[str, Any]:
    """Own files, newest first (every file with the permission to manage all files)."""
    return await file_list(actor=_actor(request), filters=filters, page=page)


@router.get("/files/{file_id}", response=FileOut)
async def get_file(request: HttpRequest, file_id: uuid.UUID) -> StoredFile:
    return await file_get(actor=_actor(request), file_id=file_id)


@router.get("/files/{file_id}/download", response=DownloadOut, openapi_extra=also_answers(409))
async def download_file(request: HttpRequest, file_id: uuid.UUID, query: Query[DownloadIn]) -> dict[str, Any]:
    """A presigned GET URL (at most 7 days) that downloads the file as an attachment."""
    return await file_download_url(actor=_actor(request), file_id=file_id, expires_in=query.expires_in)


@router.delete("/files/{file_id}")
async def delete_file(request: HttpRequest, file_id: uuid.UUID) -> None:
    """Delete the file and its object."""
    await file_delete(actor=_actor(request), file_id=file_id)


@router.get("/storage/buckets", response=Page[BucketOut], tags=["storage"])
async def list_buckets(request: HttpRequest, page: Query[PageIn]) -> dict[str, Any]:
    """Object count and total bytes of the bucket files are stored in."""
    return await bucket_list(page=page)
