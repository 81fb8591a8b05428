from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.ids import new_uuid7

MANAGE_ALL_FILES = "storage.manage_all_files"


class StoredFile(models.Model):
    """One uploaded (or being uploaded) object: who owns it, where it lives and what was announced."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"

    class Strategy(models.TextChoices):
        SINGLE = "single", "Single PUT"
        MULTIPART = "multipart", "Multipart"

    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stored_files")
    bucket = models.CharField(max_length=63)
    object_key = models.CharField(max_length=1024)
    filename = models.CharField(max_length=255, help_text=_("Client's name, sanitised; never part of the key."))
    size = models.PositiveBigIntegerField(help_text=_("Bytes, as announced and verified on completion."))
    content_type = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    upload_id = models.CharField(max_length=1024, blank=True, help_text=_("S3 multipart upload id while pending."))
    part_size = models.PositiveBigIntegerField(null=True, blank=True)
    part_count = models.PositiveIntegerField(default=1)
    etag = models.CharField(max_length=255, blank=True, help_text=_("ETag the S3 server reported on completion."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.UniqueConstraint(fields=("bucket", "object_key"), name="storage_file_unique_object")]
        indexes = [
            models.Index(fields=("owner", "-created_at"), name="storage_file_owner_created"),
            models.Index(fields=("status", "created_at"), name="storage_file_status_created"),
        ]
        permissions = [("manage_all_files", "Can see, download, abort and delete every user's files")]
        verbose_name = "stored file"

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY
