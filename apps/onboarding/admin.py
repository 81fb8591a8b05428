"""Admin: invitations. Listed in the operator's data scope like GET /invitations; created and revoked through
the API's services (apps/onboarding/services.py), so the same guard rails apply and the same mail is queued.

Nothing of an invitation is edited: its page is read-only, and its one change is the "Revoke" action.
"""

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError
from unfold.admin import ModelAdmin

from apps.accounts.admin import actor_of, assignable_role_ids
from apps.accounts.models import User
from apps.accounts.services.rbac import Actor
from apps.core.admin import Tone, badge
from apps.core.exceptions import DomainError
from apps.onboarding import services
from apps.onboarding.models import Invitation
from apps.onboarding.schemas import InvitationIn
from apps.org.models import Department
from apps.org.selectors import scope_of_sync

Status = Invitation.Status
STATUS_TONES: dict[str, Tone] = {
    Status.PENDING: "warning",
    Status.ACCEPTED: "success",
    Status.REVOKED: "danger",
    Status.EXPIRED: "default",
}
STATUS_LABELS: dict[str, Any] = {
    Status.PENDING: _("pending"),
    Status.ACCEPTED: _("accepted"),
    Status.REVOKED: _("revoked"),
    Status.EXPIRED: _("expired"),
}
ADD_FIELDS = ("email", "full_name", "roles", "department", "language")


class InvitationForm(forms.ModelForm):
    """The add form. Its clean() creates the invitation through the API's service (which also queues the mail),
    so a refusal of the guard rails is a form error; the admin then only logs what was created."""

    actor: Actor | None = None
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Of the mail; default: the language you use the admin in."),
    )

    class Meta:
        model = Invitation
        fields = ADD_FIELDS
        help_texts = {
            "department": _("The department the account lands in; default: your own."),
            "roles": _("The roles the account gets; you can give only roles whose every permission you hold."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created: Invitation | None = None
        language = self.fields["language"]
        language.choices = [("", "---------"), *settings.LANGUAGES]  # type: ignore[attr-defined]
        language.widget.choices = language.choices  # type: ignore[attr-defined]
        roles = self.fields.get("roles")
        if roles is not None:
            queryset = Group.objects.order_by("name")
            if self.actor is not None and not self.actor.user.is_superuser:
                queryset = queryset.filter(pk__in=assignable_role_ids(self.actor))
            roles.queryset = queryset  # type: ignore[attr-defined]
        department = self.fields.get("department")
        if department is not None:
            department.queryset = Department.objects.order_by("path")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors or self.actor is None:
            return data
        department = data.get("department")
        try:
            payload = InvitationIn(
                email=data.get("email") or "",
                full_name=data.get("full_name") or "",
                roles=[role.pk for role in data.get("roles") or []],
                department=department.pk if department is not None else None,
                language=data.get("language") or None,
            )
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else None
                self.add_error(field if field in self.fields else None, str(error["msg"]))
            return data
        try:
            created = async_to_sync(services.invitation_create)(actor=self.actor, data=payload, language=get_language())
        except DomainError as exc:
            self.add_error(None, exc.message)
            for item in (exc.data if isinstance(exc.data, list) else [])[:5]:
                self.add_error(None, str(item.get("msg", "")))
            return data
        self.created = Invitation.objects.get(pk=created["id"])
        return data

    def save(self, commit: bool = True) -> Invitation:
        if self.created is None:  # clean() did not run or refused: the admin never gets here then
            raise ValueError("the invitation was not created")
        return self.created

    def save_m2m(self) -> None:
        """The service set the roles already."""


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(STATUS_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> QuerySet[Invitation]:
        value = self.value()
        if value not in STATUS_LABELS:
            return queryset
        return services.invitations_with_status(queryset, value, timezone.now())


@admin.register(Invitation)
class InvitationAdmin(ModelAdmin):
    form = InvitationForm
    list_display = (
        "email",
        "full_name",
        "role_names",
        "department",
        "status_badge",
        "invited_by",
        "created_at",
        "expires_at",
    )
    list_filter = (StatusFilter,)
    search_fields = ("email",)
    ordering = ("-created_at", "-id")
    actions = ("revoke",)
    readonly_fields = (
        "status_badge",
        "role_names",
        "invited_by",
        "user",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invitation]:
        """In the operator's data scope, like GET /invitations."""
        queryset = super().get_queryset(request).select_related("department", "invited_by").prefetch_related("roles")
        return services.scoped_invitations(queryset, scope_of_sync(request.user))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": actor_of(request)})

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ADD_FIELDS
        return (
            "email",
            "full_name",
            "role_names",
            "department",
            "language",
            "status_badge",
            "invited_by",
            "user",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        )

    # An invitation is never edited or deleted here: its page is read-only and "Revoke" is its only change.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("onboarding.change_invitation"))

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        """The form's clean() created it through the service."""

    @admin.display(description=_("status"))
    def status_badge(self, obj: Invitation) -> str:
        status = services.invitation_status(obj, timezone.now())
        return badge(STATUS_LABELS.get(status, status), STATUS_TONES.get(status, "default"))

    @admin.display(description=_("roles"))
    def role_names(self, obj: Invitation) -> str:
        names = sorted(role.name for role in obj.roles.all())
        if not names:
            return "-"
        return format_html_join(" ", "{}", ((badge(name, "primary"),) for name in names))

    @admin.action(description=_("Revoke the selected pending invitations"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        actor: User = request.user  # type: ignore[assignment]
        now = timezone.now()
        revoked = skipped = 0
        for invitation in queryset:
            if services.invitation_status(invitation, now) != Status.PENDING:
                skipped += 1
                continue
            try:
                async_to_sync(services.invitation_revoke)(invitation_id=invitation.pk, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{invitation.email}: {exc.message}", messages.ERROR)
                continue
            self.log_change(request, invitation, "Revoked")
            revoked += 1
        if revoked:
            message = ngettext("Revoked %(count)d invitation.", "Revoked %(count)d invitations.", revoked) % {
                "count": revoked
            }
            self.message_user(request, message, messages.SUCCESS)
        if skipped:
            message = ngettext(
                "%(count)d invitation was not pending and was left as it is.",
                "%(count)d invitations were not pending and were left as they are.",
                skipped,
            ) % {"count": skipped}
            self.message_user(request, message, messages.WARNING)
