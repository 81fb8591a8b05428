from typing import ClassVar

from django.contrib.auth.models import AbstractUser, Group, Permission
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.ids import new_uuid7


class User(AbstractUser):
    """The platform user: UUIDv7 id, unique email optional, one full name instead of first/last."""

    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    email = models.EmailField("email address", blank=True)
    full_name = models.CharField(max_length=150, blank=True)
    # One department per user (apps/org); PROTECT: a department with users cannot be deleted.
    department = models.ForeignKey(
        "org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    REQUIRED_FIELDS: ClassVar[list[str]] = ["email"]

    class Meta:
        ordering = ("username",)

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name or self.username


class Role(Group):
    """A role is a Django group: the admin's stock widgets edit it, and user.has_perm keeps working."""

    class Meta:
        proxy = True
        ordering = ("name",)
        verbose_name = "role"


class RoleProfile(models.Model):
    """What a role has beyond a group: a description and an on/off switch (a deactivated role grants nothing)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, primary_key=True, related_name="profile")
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Holders must sign in with a second factor; one without a device enrols at the next sign-in (40111).
    require_two_factor = models.BooleanField(
        _("require two-factor sign-in"),
        default=False,
        help_text=_(
            "Holders must sign in with an authenticator app; those without one set it up at their next sign-in."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.group_id}"


class ApiPermission(Permission):
    """API permissions: Permission rows under their own content type, codename `METHOD:/api/v1/path`."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "API permission"


class ApiOperation(models.Model):
    """The route-table facts behind an API permission; operation_id lets a moved route keep its grants."""

    permission = models.OneToOneField(Permission, on_delete=models.CASCADE, related_name="api_operation")
    operation_id = models.CharField(max_length=255, unique=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    summary = models.CharField(max_length=255, blank=True)
    tag = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        ordering = ("path", "method")

    def __str__(self) -> str:
        return f"{self.method}:{self.path}"


class TableRowCount(models.Model):
    """The row count of a table, kept by PostgreSQL triggers (migration 0006) in the same transaction as each
    insert, delete or truncate: the unfiltered user list's total is one row read, not a COUNT(*) over the table.
    No row (SQLite, or a table without triggers): callers count the rows themselves."""

    table_name = models.CharField(max_length=63, primary_key=True)
    row_count = models.BigIntegerField()

    class Meta:
        verbose_name = "table row count"

    def __str__(self) -> str:
        return f"{self.table_name}: {self.row_count}"
