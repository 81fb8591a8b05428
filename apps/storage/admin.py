from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from apps.core.exceptions import ServiceUnavailable
from apps.storage import objects
from apps.storage.limits import clamp_url_ttl
from apps.storage.models import MANAGE_ALL_FILES, StoredFile
from apps.storage.services import file_purge_sync


@admin.register(StoredFile)
class StoredFileAdmin(ModelAdmin):
    """Files are created by uploads only: the admin lists, inspects, downloads and deletes them."""

    list_display = ("filename", "owner", "size_display", "content_type", "status_badge", "created_at")
    list_filter = ("status", "strategy", "content_type", "created_at")
    search_fields = ("filename", "owner__username", "owner__email", "object_key")
    list_select_related = ("owner",)
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "owner",
        "filename",
        "size_display",
        "content_type",
        "status",
        "strategy",
        "part_size",
        "part_count",
        "bucket",
        "object_key",
        "etag",
        "created_at",
        "completed_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StoredFile]:
        from apps.org.selectors import scope_of_sync

        # The operator's data scope, like GET /files with storage.manage_all_files: the files of the users in it.
        queryset = super().get_queryset(request)
        condition = scope_of_sync(request.user).user_q(prefix="owner__")
        return queryset if condition is None else queryset.filter(condition)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StoredFile | None = None) -> bool:
        return False

    def _may_download(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(MANAGE_ALL_FILES))

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = tuple(super().get_list_display(request))
        return (*columns, "download_link") if self._may_download(request) else columns

    def get_fields(self, request: HttpRequest, obj: StoredFile | None = None) -> Any:
        fields = tuple(super().get_fields(request, obj))
        return (*fields, "download_link") if self._may_download(request) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: StoredFile | None = None) -> Any:
        return self.get_fields(request, obj)

    @display(description=_("size"), ordering="size")
    def size_display(self, obj: StoredFile) -> str:
        return f"{filesizeformat(obj.size)} ({obj.size} B)"

    @display(description=_("status"), ordering="status", label={"pending": "warning", "ready": "success"})
    def status_badge(self, obj: StoredFile) -> str:
        return obj.status

    @display(description=_("download"))
    def download_link(self, obj: StoredFile) -> str:
        if not obj.is_ready:
            return "-"
        # Signing is local computation (the region is configured): no request to the S3 server per row.
        url = objects.presign_get(
            obj.object_key,
            expires_in=clamp_url_ttl(settings.FILE_DOWNLOAD_URL_TTL),
            filename=obj.filename,
            content_type=obj.content_type,
            bucket=obj.bucket,
        )
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', url, _("download"))

    def delete_model(self, request: HttpRequest, obj: StoredFile) -> None:
        """Remove the object first; if the S3 server is unreachable the record stays for another try."""
        try:
            file_purge_sync(file=obj)
        except ServiceUnavailable:
            self.message_user(
                request,
                _("%(name)s: object storage unavailable, file kept") % {"name": obj.filename},
                level=messages.ERROR,
            )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StoredFile]) -> None:
        kept = 0
        for obj in queryset:
            try:
                file_purge_sync(file=obj)
            except ServiceUnavailable:
                kept += 1
        if kept:
            self.message_user(
                request, _("object storage unavailable: %(count)s file(s) kept") % {"count": kept}, level=messages.ERROR
            )
