"""Upload rules that need no I/O: filename sanitising, content types, size limits and the upload plan."""

import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MIB = 1024 * 1024
# S3's own bounds: parts of 5 MiB .. 5 GiB (the last part may be smaller), at most 10,000 parts,
# single PUTs up to 5 GiB, presigned URLs valid for at most 7 days.
S3_MIN_PART_SIZE = 5 * MIB
S3_MAX_PART_SIZE = 5 * 1024 * MIB
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_PUT = 5 * 1024 * MIB
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Bytes most filesystems allow in one file name.
MAX_FILENAME_BYTES = 255
# Key prefix owned by this platform inside the bucket (housekeeping only ever touches keys under it).
OBJECT_KEY_PREFIX = "files/"
_KEY_RE = re.compile(r"^files/\d{4}/\d{2}/(?P<id>[0-9a-f]{32})(?:\.[a-z0-9]{1,10})?$")
_EXTENSION_RE = re.compile(r"\.([A-Za-z0-9]{1,10})$")
_FILENAME_LOC: list[str | int] = ["body", "payload", "filename"]

Strategy = Literal["single", "multipart"]


@dataclass(frozen=True)
class UploadPlan:
    strategy: Strategy
    part_size: int | None = None
    part_count: int = 1


def sanitize_filename(name: str) -> str:
    """A display name safe to store and send back: last path segment, no control or format characters,
    at most 255 UTF-8 bytes (the extension kept). Raises ValidationFailed when nothing is left."""
    name = unicodedata.normalize("NFC", name)
    # Both separators, whatever the client's OS: "..\\..\\x" and "a/b" keep only their last segment.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C covers control (incl. NUL, CR, LF), format (e.g. right-to-left overrides that disguise
    # extensions), surrogates and private-use characters.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if name.strip(".") == "":
        raise ValidationFailed(_("filename is empty once path and control characters are removed"), loc=_FILENAME_LOC)
    return _truncate_keeping_extension(name, MAX_FILENAME_BYTES)


def _truncate_keeping_extension(name: str, max_bytes: int) -> str:
    if len(name.encode()) <= max_bytes:
        return name
    match = _EXTENSION_RE.search(name)
    extension = match.group(0) if match else ""
    stem = name[: len(name) - len(extension)]
    budget = max_bytes - len(extension.encode())
    encoded = stem.encode()[:budget]
    # Cutting bytes may split a multi-byte character: drop the broken tail.
    stem = encoded.decode("utf-8", errors="ignore").rstrip()
    return stem + extension


def normalize_content_type(value: str) -> str:
    """`Text/Plain; charset=UTF-8` -> `text/plain` (parameters do not change what a file is)."""
    return value.split(";", 1)[0].strip().lower()


def content_type_allowed(content_type: str, allowed: list[str]) -> bool:
    """Exact media types, or `type/*` wildcards, from the allow-list."""
    if "/" not in content_type:
        return False
    main = content_type.split("/", 1)[0]
    patterns = {normalize_content_type(item) for item in allowed}
    return content_type in patterns or f"{main}/*" in patterns


def check_upload_limits(*, size: int, content_type: str) -> str:
    """Refuse an upload before any URL is issued; returns the normalised content type."""
    normalized = normalize_content_type(content_type)
    if not content_type_allowed(normalized, list(settings.FILE_ALLOWED_CONTENT_TYPES)):
        raise UnsupportedMediaType(_("content type %(type)r is not allowed") % {"type": normalized or content_type})
    if size > settings.FILE_MAX_SIZE:
        raise PayloadTooLarge(_("file is larger than the %(size)s bytes allowed") % {"size": settings.FILE_MAX_SIZE})
    return normalized


def configured_part_size() -> int:
    return min(max(int(settings.FILE_PART_SIZE), S3_MIN_PART_SIZE), S3_MAX_PART_SIZE)


def configured_max_parts() -> int:
    return min(max(int(settings.FILE_MAX_PARTS), 1), S3_MAX_PARTS)


def plan_upload(size: int) -> UploadPlan:
    """Single PUT below the threshold, else parts of FILE_PART_SIZE, grown (to whole MiB) when the file
    would need more than FILE_MAX_PARTS parts."""
    if size == 0 or (size < settings.FILE_MULTIPART_THRESHOLD and size <= S3_MAX_SINGLE_PUT):
        return UploadPlan(strategy="single")
    part_size = configured_part_size()
    max_parts = configured_max_parts()
    if math.ceil(size / part_size) > max_parts:
        part_size = math.ceil(size / max_parts / MIB) * MIB
    if part_size > S3_MAX_PART_SIZE:
        raise PayloadTooLarge(_("file is too large for the configured number of parts"))
    return UploadPlan(strategy="multipart", part_size=part_size, part_count=math.ceil(size / part_size))


def expected_part_sizes(*, size: int, part_size: int) -> list[int]:
    count = math.ceil(size / part_size)
    return [part_size] * (count - 1) + [size - part_size * (count - 1)]


def clamp_url_ttl(seconds: int) -> int:
    return min(max(int(seconds), 1), MAX_PRESIGN_SECONDS)


def object_key_for(*, file_id: uuid.UUID, filename: str, created_at: datetime) -> str:
    """Generated server-side: the client's name never reaches the key (only a short alphanumeric extension)."""
    match = _EXTENSION_RE.search(filename)
    extension = f".{match.group(1).lower()}" if match else ""
    return f"{OBJECT_KEY_PREFIX}{created_at:%Y/%m}/{file_id.hex}{extension}"


def file_id_of_key(key: str) -> uuid.UUID | None:
    """The record id a key of ours belongs to, or None for keys this platform did not generate."""
    match = _KEY_RE.match(key)
    return uuid.UUID(match.group("id")) if match else None
