"""Reads: the files a user may see, download links and bucket statistics."""

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exceptions import Conflict, NotFound
from apps.core.pagination import PageIn, page_of, paginate_queryset
from apps.storage import objects
from apps.storage.limits import clamp_url_ttl, normalize_content_type
from apps.storage.models import StoredFile
from apps.storage.permissions import can_manage_all_files
from apps.storage.schemas import FileFilter


async def visible_files(*, actor: User) -> QuerySet[StoredFile]:
    """Everyone sees their own files; managers of all files see the files of every user in their data scope."""
    from apps.org.selectors import scope_of

    queryset = StoredFile.objects.all()
    if not await can_manage_all_files(actor):
        return queryset.filter(owner=actor)
    condition = (await scope_of(actor)).user_q(prefix="owner__")
    return queryset if condition is None else queryset.filter(condition)


async def file_get(*, actor: User, file_id: uuid.UUID) -> StoredFile:
    """A file the actor may see; someone else's file is "not found" so ids cannot be probed."""
    try:
        return await (await visible_files(actor=actor)).aget(pk=file_id)
    except StoredFile.DoesNotExist:
        raise NotFound(_("file not found")) from None


async def file_list(*, actor: User, filters: FileFilter, page: PageIn) -> dict[str, Any]:
    queryset = await visible_files(actor=actor)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.owner_id:
        queryset = queryset.filter(owner_id=filters.owner_id)
    if filters.content_type:
        queryset = queryset.filter(content_type=normalize_content_type(filters.content_type))
    if filters.search:
        queryset = queryset.filter(filename__icontains=filters.search)
    return await paginate_queryset(queryset.order_by("-created_at", "-id"), page)


async def file_download_url(*, actor: User, file_id: uuid.UUID, expires_in: int | None) -> dict[str, Any]:
    """A presigned GET (at most 7 days) for a ready file whose object is still the one that was completed."""
    file = await file_get(actor=actor, file_id=file_id)
    if not file.is_ready:
        raise Conflict(_("the file has not been uploaded completely"))
    # A single-PUT URL stays valid until it expires, so the object could have been replaced after completion:
    # only hand out the bytes that were verified.
    info = await objects.astat(file.object_key, bucket=file.bucket)
    if info is None or info.size != file.size or (file.etag and info.etag != file.etag):
        raise Conflict(_("the stored object is missing or no longer matches the file"))
    ttl = clamp_url_ttl(expires_in or settings.FILE_DOWNLOAD_URL_TTL)
    url = await objects.apresign_get(
        file.object_key, expires_in=ttl, filename=file.filename, content_type=file.content_type, bucket=file.bucket
    )
    return {"url": url, "expires_in": ttl}


async def bucket_list(*, page: PageIn) -> dict[str, Any]:
    """Statistics of the bucket(s) this platform stores files in."""
    stats = await objects.abucket_stats()
    items = [{"name": stats.name, "object_count": stats.object_count, "total_bytes": stats.total_bytes}]
    return page_of(items[page.offset : page.offset + page.size], total=len(items), page=page)
