"""Admin: departments as an indented tree list, posts, and a role's data scope as an inline of the role page."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from apps.core.exceptions import DomainError, PermissionDenied
from apps.org import services
from apps.org.models import Department, Post, RoleScope


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ("parent", "name", "code", "order", "leader", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # a department never moves under itself or its descendants
            parent = self.fields["parent"]
            parent.queryset = Department.objects.exclude(path__startswith=self.instance.path)  # type: ignore[attr-defined]


@admin.register(Department)
class DepartmentAdmin(ModelAdmin):
    form = DepartmentForm
    list_display = ("tree_name", "code", "order", "leader", "is_active", "user_count")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    ordering = ("path", "id")
    autocomplete_fields = ("leader",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        return super().get_queryset(request).select_related("leader").annotate(users_count=Count("users"))

    @admin.display(description=_("name"), ordering="path")
    def tree_name(self, obj: Department) -> str:
        return format_html('<span style="padding-left: {}em">{}</span>', obj.depth * 1.5, obj.name)

    @admin.display(description=_("users"), ordering="users_count")
    def user_count(self, obj: Department) -> int:
        return int(getattr(obj, "users_count", 0))

    def save_model(self, request: HttpRequest, obj: Department, form: Any, change: bool) -> None:
        # The API's writes: they keep the subtree's paths right and refuse cycles under a lock.
        data = {
            "parent": obj.parent_id,
            "name": obj.name,
            "code": obj.code,
            "order": obj.order,
            "leader": obj.leader_id,
            "is_active": obj.is_active,
        }
        if change:
            services.department_update_sync(department_id=obj.pk, changes=data)
        else:
            obj.pk = services.department_create_sync(data=data)
        obj.refresh_from_db()

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        if request.method == "POST" and (department := self.get_object(request, object_id)) is not None:
            try:
                services.department_delete_sync(department_id=department.pk)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:org_department_change", args=[department.pk]))
            self.message_user(request, gettext("The department was deleted."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:org_department_changelist"))
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletes go one by one, through the rule that refuses non-empty ones
        return actions


@admin.register(Post)
class PostAdmin(ModelAdmin):
    list_display = ("name", "code", "order", "holder_count")
    search_fields = ("name", "code")
    ordering = ("order", "code")
    autocomplete_fields = ("users",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        return super().get_queryset(request).annotate(holders_count=Count("users"))

    @admin.display(description=_("holders"), ordering="holders_count")
    def holder_count(self, obj: Post) -> int:
        return int(getattr(obj, "holders_count", 0))


class RoleScopeForm(forms.ModelForm):
    actor: Any = None  # the signed-in operator, set per request by RoleScopeAdmin.get_form

    class Meta:
        model = RoleScope
        fields = ("group", "scope", "departments")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("scope") != "custom" and data.get("departments"):
            self.add_error("departments", gettext("Departments are chosen only for the custom scope"))
        if self.actor is not None and data.get("scope"):
            chosen = [department.pk for department in data.get("departments") or ()]
            try:  # the same rule as PUT /roles/{id}/data-scope: no wider reach than the operator's own
                services.ensure_can_give_scope_sync(actor=self.actor, scope=data["scope"], departments=chosen)
            except PermissionDenied as exc:
                raise forms.ValidationError(exc.message) from None
        return data


@admin.register(RoleScope)
class RoleScopeAdmin(ModelAdmin):
    """Each role's data scope (a role without one here has `all`)."""

    form = RoleScopeForm
    list_display = ("group", "scope")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)  # a new class per call: safe to set on
        form.actor = request.user
        return form

    list_filter = ("scope",)
    fields = ("group", "scope", "departments")
    filter_horizontal = ("departments",)
    ordering = ("group__name",)
