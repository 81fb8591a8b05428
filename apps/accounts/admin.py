"""Admin: users (with live sessions and force logout) and roles (with API permissions grouped by tag)."""

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, StackedInline
from unfold.forms import UserChangeForm, UserCreationForm

from apps.accounts.authz import API_PERMISSION_FILTER
from apps.accounts.models import ApiOperation, Role, RoleProfile, User
from apps.accounts.sessions import sessions_end_all_sync, sessions_of
from apps.accounts.widgets import PermissionMatrixWidget
from apps.realtime.admin import OnlineConnectionsAdminMixin


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(OnlineConnectionsAdminMixin, DjangoUserAdmin, ModelAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = (
        "username",
        "email",
        "full_name",
        "is_active",
        "is_superuser",
        "role_names",
        "online_connections",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)
    readonly_fields = ("id", "last_login", "date_joined", "live_sessions")
    actions = ("force_logout",)
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        ("Profile", {"fields": ("full_name", "email")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Sessions", {"fields": ("live_sessions",)}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "full_name", "password1", "password2")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def role_names(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    @admin.display(description="Live sessions")
    def live_sessions(self, obj: User) -> str:
        if obj.pk is None:
            return "—"
        sessions = async_to_sync(sessions_of)(str(obj.pk))
        if not sessions:
            return "No live session"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code> — {} from {} (since {}, last seen {})</li>",
                (
                    (s.id[:8], s.user_agent or "unknown client", s.ip or "?", s.created_at[:19], s.last_seen_at[:19])
                    for s in sessions
                ),
            ),
        )

    @admin.action(description="Force logout (end all sessions)")
    def force_logout(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended = sum(len(sessions_end_all_sync(user_id=str(u.pk), reason="force_logout")) for u in queryset)
        self.message_user(request, f"Ended {ended} session(s) of {queryset.count()} user(s).", messages.SUCCESS)


class RoleProfileInline(StackedInline):
    model = RoleProfile
    can_delete = False
    fields = ("description", "is_active")
    verbose_name = "role settings"


class RoleForm(forms.ModelForm):
    permissions = forms.ModelMultipleChoiceField(
        queryset=Permission.objects.none(),
        required=False,
        widget=PermissionMatrixWidget,
        help_text="API permissions (METHOD:/path), grouped by tag.",
    )

    class Meta:
        model = Role
        fields = ("name", "permissions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["permissions"]
        field.queryset = Permission.objects.filter(**API_PERMISSION_FILTER)  # type: ignore[attr-defined]
        grouped: dict[str, list[tuple[int, str]]] = {}
        for operation in ApiOperation.objects.select_related("permission").order_by("tag", "path", "method"):
            grouped.setdefault(operation.tag or "other", []).append(
                (operation.permission_id, f"{operation.permission.codename} — {operation.summary}")
            )
        field.choices = list(grouped.items())  # type: ignore[attr-defined]


@admin.register(Role)
class RoleAdmin(ModelAdmin):
    form = RoleForm
    inlines = (RoleProfileInline,)
    list_display = ("name", "is_active", "permission_count", "member_count")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).select_related("profile").prefetch_related("permissions", "user_set")

    @admin.display(description="Active", boolean=True)
    def is_active(self, obj: Role) -> bool:
        profile = getattr(obj, "profile", None)
        return bool(profile.is_active) if profile else True

    @admin.display(description="Permissions")
    def permission_count(self, obj: Role) -> int:
        return len(obj.permissions.all())

    @admin.display(description="Members")
    def member_count(self, obj: Role) -> int:
        return len(obj.user_set.all())


# Roles replace the stock group pages (a role *is* a group).
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
