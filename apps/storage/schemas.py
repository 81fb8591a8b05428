import uuid
from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class UploadIn(Schema):
    # Longer names are refused; names up to this are sanitised and cut to 255 bytes.
    filename: str = Field(..., min_length=1, max_length=1024)
    size: int = Field(..., ge=0, description="Exact size in bytes; checked again when the upload completes")
    content_type: str = Field(..., min_length=1, max_length=255)


class UploadPartUrl(Schema):
    part_number: int
    url: str


class SingleUploadOut(Schema):
    file_id: uuid.UUID
    strategy: Literal["single"]
    url: str = Field(..., description="PUT the whole body here")
    headers: dict[str, str] = Field(..., description="Headers to send with the PUT")
    expires_in: int = Field(..., description="Seconds the URL stays valid")


class MultipartUploadOut(Schema):
    file_id: uuid.UUID
    strategy: Literal["multipart"]
    upload_id: str
    part_size: int = Field(..., description="Every part but the last has exactly this many bytes")
    parts: list[UploadPartUrl] = Field(..., description="PUT each part to its URL; keep each response's ETag")
    expires_in: int = Field(..., description="Seconds the URLs stay valid")


class CompletedPart(Schema):
    part_number: int = Field(..., ge=1, le=10_000)
    etag: str = Field(..., min_length=1, max_length=255)


class CompleteIn(Schema):
    # Multipart only; without it the parts the S3 server holds are used.
    parts: list[CompletedPart] | None = Field(None, max_length=10_000)


class FileOut(Schema):
    id: uuid.UUID
    filename: str
    size: int
    content_type: str
    status: Literal["pending", "ready"]
    owner_id: uuid.UUID
    created_at: datetime


class FileFilter(Schema):
    status: Literal["pending", "ready"] | None = None
    owner_id: uuid.UUID | None = Field(None, description="Only with the permission to manage all files")
    content_type: str | None = None
    search: str | None = Field(None, max_length=255, description="Part of the file name")


class DownloadIn(Schema):
    expires_in: int | None = Field(None, ge=1, description="Seconds; clamped to 7 days")


class DownloadOut(Schema):
    url: str
    expires_in: int


class BucketOut(Schema):
    name: str
    object_count: int
    total_bytes: int
