"""Admin: users (with live sessions and force logout) and roles (API permissions grouped by tag, other permissions,
members), under the same guard rails as the API (apps/accounts/services/rbac.py)."""

from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as delete_selected_action
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import Count, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline
from unfold.forms import UserChangeForm, UserCreationForm

from apps.accounts.admin_access import ROLE_TWO_FACTOR_SET, is_derived
from apps.accounts.authz import API_PERMISSION_FILTER
from apps.accounts.backends import api_codes_of
from apps.accounts.models import ApiOperation, Role, RoleProfile, User
from apps.accounts.services.rbac import (
    Actor,
    ensure_can_assign_roles,
    ensure_can_change_user,
    ensure_can_delete_user,
    ensure_can_grant,
    ensure_can_grant_other,
    role_permissions_replace,
)
from apps.accounts.sessions import sessions_end_all_sync, sessions_of
from apps.accounts.widgets import PermissionMatrixWidget
from apps.core.exceptions import DomainError
from apps.realtime.admin import OnlineConnectionsAdminMixin

MEMBERS_SHOWN = 50
SUPERUSER_FIELDS = ("is_superuser", "is_staff")
DEFAULT_ACTIONS = ("add", "change", "delete", "view")


def actor_of(request: HttpRequest) -> Actor:
    """The signed-in admin user as the guard rails see them: the user and their active roles' API codes."""
    user: User = request.user  # type: ignore[assignment]
    return Actor(user=user, codes=api_codes_of(user))


# --- users ----------------------------------------------------------------------------------------------


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "full_name")


class UserEditForm(UserChangeForm):
    """The user form; the admin binds the acting user (`actor`) so clean() applies the API's guard rails."""

    actor: Actor | None = None

    class Meta:
        model = User
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        groups = self.fields.get("groups")
        if groups is not None and self.actor is not None and not self.actor.user.is_superuser:
            # Offer the roles this actor may assign, and the ones the user has (removing one is allowed).
            current = set(self.instance.groups.values_list("pk", flat=True)) if self.instance.pk else set()
            allowed = current | assignable_role_ids(self.actor)
            groups.queryset = Group.objects.filter(pk__in=allowed).order_by("name")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        if self.actor is None or self.instance.pk is None:
            return data
        fields: tuple[str, ...] = ("is_active", "is_superuser", "is_staff")
        changes = {field: data[field] for field in fields if field in data}
        try:
            ensure_can_change_user(self.actor, self.instance, changes)
            department = data.get("department")
            if "department" in data and department is not None and department.pk != self.instance.department_id:
                from apps.accounts.policies import ensure_department_in_scope
                from apps.org.selectors import scope_of_sync

                ensure_department_in_scope(scope_of_sync(self.actor.user), department_id=department.pk)
            if "groups" in data and data["groups"] is not None:
                current = set(self.instance.groups.values_list("pk", flat=True))
                ensure_can_assign_roles(self.actor, [g for g in data["groups"] if g.pk not in current])
        except DomainError as exc:
            self.add_error(None, exc.message)
        return data


def assignable_role_ids(actor: Actor) -> set[int]:
    """Roles whose every permission the actor holds (superusers: all)."""
    roles = Group.objects.prefetch_related("permissions__content_type")
    allowed: set[int] = set()
    for role in roles:
        try:
            ensure_can_assign_roles(actor, [role])
        except DomainError:
            continue
        allowed.add(role.pk)
    return allowed


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
    actions = ("force_logout", "delete_selected")
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        (_("Profile"), {"fields": ("full_name", "email")}),
        (_("Organisation"), {"fields": ("department",)}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Sessions"), {"fields": ("live_sessions",)}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "full_name", "password1", "password2")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        from apps.org.selectors import scope_of_sync, scoped_users

        # The caller's data scope, like the API's: a user outside it is neither listed nor found by id.
        queryset = super().get_queryset(request).select_related("department").prefetch_related("groups")
        return scoped_users(queryset, scope_of_sync(request.user))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form
        return type(form.__name__, (form,), {"actor": actor_of(request)})

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, *SUPERUSER_FIELDS)  # only superusers give admin access or the superuser flag

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # only superusers change superusers: the page is read-only for the others
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.pk == request.user.pk or (obj.is_superuser and not request.user.is_superuser)):
            return False
        return super().has_delete_permission(request, obj)

    def has_force_logout_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("accounts.force_logout_user"))

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        user = self.get_object(request, object_id)
        if user is not None and self.has_delete_permission(request, user):
            try:
                ensure_can_delete_user(actor_of(request), user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        ensure_can_delete_user(actor_of(request), obj)  # checked in delete_view already; never skipped
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = actor_of(request)
        for user in queryset:
            ensure_can_delete_user(actor, user)
        super().delete_queryset(request, queryset)

    @admin.action(permissions=["delete"], description=_("Delete selected users"))
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        actor = actor_of(request)
        refused = []
        for user in queryset:
            try:
                ensure_can_delete_user(actor, user)
            except DomainError as exc:
                refused.append(f"{user.username}: {exc.message}")
        if refused:
            self.message_user(
                request, gettext("Nothing was deleted. %(reasons)s") % {"reasons": "; ".join(refused)}, messages.ERROR
            )
            return None
        return delete_selected_action(self, request, queryset)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            # Like a password set through the API: the user's sessions end (tokens fail with 40103).
            sessions_end_all_sync(user_id=str(self.get_object(request, id).pk), reason="password_change")  # type: ignore[union-attr]
        return response

    @admin.display(description=_("Roles"))
    def role_names(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    @admin.display(description=_("Live sessions"))
    def live_sessions(self, obj: User) -> str:
        if obj.pk is None:
            return "—"
        sessions = async_to_sync(sessions_of)(str(obj.pk))
        if not sessions:
            return gettext("No live session")
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

    @admin.action(permissions=["force_logout"], description=_("Force logout (end all sessions)"))
    def force_logout(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended = sum(len(sessions_end_all_sync(user_id=str(u.pk), reason="force_logout")) for u in queryset)
        self.message_user(
            request,
            gettext("Ended %(sessions)d session(s) of %(users)d user(s).")
            % {"sessions": ended, "users": len(queryset)},
            messages.SUCCESS,
        )


# --- roles ----------------------------------------------------------------------------------------------


class RoleProfileFormSet(BaseInlineFormSet):
    def save_new(self, form: forms.ModelForm, commit: bool = True) -> RoleProfile:
        # Saving a new role already made its profile (receivers.group_saved): fill that row in. Saving the form's
        # own instance would UPDATE the row with a NULL created_at (auto_now_add is set on insert only).
        profile, _created = RoleProfile.objects.get_or_create(group=self.instance)
        for field in ("description", "is_active", "require_two_factor"):
            if field in form.cleaned_data:  # not when read-only for this operator
                setattr(profile, field, form.cleaned_data[field])
        if commit:
            profile.save()
        return profile


class RoleProfileInline(StackedInline):
    model = RoleProfile
    formset = RoleProfileFormSet
    can_delete = False
    fields = ("description", "is_active", "require_two_factor")
    verbose_name = _("role settings")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Like the API: the requirement has its own operation, PUT /roles/{role_id}/two-factor.
        user = request.user
        if user.is_superuser or ROLE_TWO_FACTOR_SET in api_codes_of(user):
            return ()
        return ("require_two_factor",)


def other_permissions() -> QuerySet[Permission]:
    """Django permissions a role editor offers besides API codes: custom ones that no API code decides.

    Default model permissions (add/change/delete/view) are left out: those of admin pages follow the API codes
    (apps/accounts/admin_access.py), and nothing checks those of the other models.
    """
    candidates = Permission.objects.exclude(**API_PERMISSION_FILTER).select_related("content_type")
    wanted = [
        p.pk
        for p in candidates
        if p.codename not in {f"{action}_{p.content_type.model}" for action in DEFAULT_ACTIONS}
        and not is_derived(f"{p.content_type.app_label}.{p.codename}")
    ]
    return (
        Permission.objects.filter(pk__in=wanted)
        .select_related("content_type")
        .order_by("content_type__app_label", "codename")
    )


class OtherPermissionField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Permission) -> str:
        return f"{obj.content_type.app_label}.{obj.codename} — {obj.name}"


class RoleForm(forms.ModelForm):
    """Name, API permissions and other permissions; saving replaces only what the form offers."""

    actor: Actor | None = None

    permissions = forms.ModelMultipleChoiceField(
        queryset=Permission.objects.none(),
        required=False,
        widget=PermissionMatrixWidget,
        help_text=_("API permissions (METHOD:/path), grouped by tag."),
    )
    other_permissions = OtherPermissionField(
        queryset=Permission.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Other permissions"),
        help_text=_("Permissions that are not API operations, e.g. storage.manage_all_files."),
    )

    class Meta:
        model = Role
        fields = ("name",)  # the permission fields are saved by the admin (see RoleAdmin.save_related)

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
        other = self.fields["other_permissions"]
        other.queryset = other_permissions()  # type: ignore[attr-defined]
        self.held_api: set[int] = set()
        self.held_other: set[int] = set()
        if self.instance.pk is not None:
            held = set(self.instance.permissions.values_list("pk", flat=True))
            self.held_api = held & set(field.queryset.values_list("pk", flat=True))  # type: ignore[attr-defined]
            self.held_other = held & set(other.queryset.values_list("pk", flat=True))  # type: ignore[attr-defined]
            self.initial.setdefault("permissions", sorted(self.held_api))
            self.initial.setdefault("other_permissions", sorted(self.held_other))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.actor is None:
            return data
        added_api = [p for p in data.get("permissions") or [] if p.pk not in self.held_api]
        added_other = [p for p in data.get("other_permissions") or [] if p.pk not in self.held_other]
        try:
            ensure_can_grant(self.actor, [p.codename for p in added_api])
        except DomainError as exc:
            self.add_error("permissions", exc.message)
        try:
            ensure_can_grant_other(self.actor, [f"{p.content_type.app_label}.{p.codename}" for p in added_other])
        except DomainError as exc:
            self.add_error("other_permissions", exc.message)
        return data


@admin.register(Role)
class RoleAdmin(ModelAdmin):
    form = RoleForm
    inlines = (RoleProfileInline,)
    list_display = ("name", "is_active", "permission_count", "member_count")
    search_fields = ("name",)
    ordering = ("name",)
    readonly_fields = ("members",)
    fields = ("name", "permissions", "other_permissions", "members")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return (
            super()
            .get_queryset(request)
            .select_related("profile")
            .annotate(
                api_permission_count=Count(
                    "permissions",
                    filter=Q(**{f"permissions__{k}": v for k, v in API_PERMISSION_FILTER.items()}),
                    distinct=True,
                ),
                users_count=Count("user", distinct=True),
            )
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        # Only the name is a model field the form saves; the permission fields are saved by save_related (the
        # stock save_m2m would replace every permission of the role with the API codes ticked).
        kwargs["fields"] = ("name",)
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": actor_of(request)})

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_fields(request, obj))
        return fields if obj is not None else tuple(f for f in fields if f != "members")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        data = form.cleaned_data
        scope = set(form.fields["permissions"].queryset.values_list("pk", flat=True))
        scope |= set(form.fields["other_permissions"].queryset.values_list("pk", flat=True))
        wanted = [p.pk for p in data.get("permissions") or []] + [p.pk for p in data.get("other_permissions") or []]
        # The same write as the API's: only offered permissions change, anything else the role holds stays.
        role_permissions_replace(form.instance, scope=scope, wanted=wanted)

    @admin.display(description=_("Active"), boolean=True)
    def is_active(self, obj: Role) -> bool:
        profile = getattr(obj, "profile", None)
        return bool(profile.is_active) if profile else True

    @admin.display(description=_("API permissions"), ordering="api_permission_count")
    def permission_count(self, obj: Role) -> int:
        return int(getattr(obj, "api_permission_count", 0))

    @admin.display(description=_("Members"), ordering="users_count")
    def member_count(self, obj: Role) -> str:
        count = int(getattr(obj, "users_count", 0))
        return format_html('<a href="{}">{}</a>', _members_url(obj), count)

    @admin.display(description=_("Members"))
    def members(self, obj: Role) -> str:
        """Who this role affects: its users, each linked to their page."""
        if obj.pk is None:
            return "—"
        users = list(obj.user_set.order_by("username").values("pk", "username", "is_active")[: MEMBERS_SHOWN + 1])
        if not users:
            return gettext("Nobody holds this role.")
        shown = format_html_join(
            ", ",
            '<a href="{}">{}</a>{}',
            (
                (
                    reverse("admin:accounts_user_change", args=[u["pk"]]),
                    u["username"],
                    "" if u["is_active"] else gettext(" (inactive)"),
                )
                for u in users[:MEMBERS_SHOWN]
            ),
        )
        total = obj.user_set.count()
        return format_html(
            '{} <a href="{}">{}</a>',
            shown,
            _members_url(obj),
            ngettext("(%(count)d user in the list)", "(all %(count)d users in the list)", total) % {"count": total},
        )


def _members_url(role: Group) -> str:
    return f"{reverse('admin:accounts_user_changelist')}?{urlencode({'groups__id__exact': role.pk})}"


# Roles replace the stock group pages (a role *is* a group).
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
