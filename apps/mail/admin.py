"""Admin: the send records (MongoDB `mail_sends`) as a read-only document list, and "Resend" for failed mails.

The tableless anchor (apps.mail.models.MailSendEntry) gives the page its entry and two permissions, derived from
the API codes: `mail.view_mailsendentry` (GET /mail/sends) and `mail.resend_mailsendentry` (POST
/mail/sends/{mail_id}/resend). Resending goes through the mail service, as the API's route does.
"""

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from pymongo.errors import PyMongoError

from apps.core.admin import DocumentListAdmin, ListFilter, Tone, badge, clipped, moment
from apps.core.exceptions import DomainError
from apps.mail.documents import SendStatus
from apps.mail.models import MailSendEntry
from apps.mail.schemas import MailSendFilter
from apps.mail.selectors import send_export_sync, send_get_sync, send_page_sync, send_query
from apps.mail.services import mail_resend_sync

RESEND_PERMISSION = "mail.resend_mailsendentry"
_may_resend: ContextVar[bool] = ContextVar("may_resend", default=False)
STATUS_TONES: dict[str, Tone] = {
    SendStatus.QUEUED: "info",
    SendStatus.RETRYING: "warning",
    SendStatus.SENT: "success",
    SendStatus.FAILED: "danger",
}
STATUS_LABELS: dict[str, Any] = {
    SendStatus.QUEUED: _("queued"),
    SendStatus.RETRYING: _("retrying"),
    SendStatus.SENT: _("sent"),
    SendStatus.FAILED: _("failed"),
}
DETAIL_FIELDS = (
    ("mail_id", _("mail id")),
    ("to", _("to")),
    ("template", _("template")),
    ("language", _("language")),
    ("subject", _("subject")),
    ("status", _("status")),
    ("attempts", _("attempts")),
    ("error", _("error")),
    ("task_id", _("task id")),
    ("queued_at", _("queued at")),
    ("last_attempt_at", _("last attempt at")),
    ("sent_at", _("sent at")),
    ("resent_from", _("resends")),
    ("resent_as", _("resent as")),
)


def status_badge(status: str | None) -> str:
    return badge(STATUS_LABELS.get(status or "", status or "-"), STATUS_TONES.get(status or "", "default"))


def resendable(record: dict[str, Any]) -> bool:
    return record.get("status") == SendStatus.FAILED and not record.get("resent_as")


@admin.register(MailSendEntry)
class MailSendAdmin(DocumentListAdmin):
    """Read-only list (status filter, address search, page numbers, CSV export) and detail of send records."""

    filter_schema = MailSendFilter
    # Like the API's filters, except that a value the API would refuse (42200) is left out, with a message.
    drop_invalid_filters = True
    filters = [
        ListFilter("status", _("Status"), "select", lambda: [(s.value, STATUS_LABELS[s.value]) for s in SendStatus]),
    ]
    search_label = _("Address")
    search_placeholder = _("Part of a recipient address")
    headers = [
        _("To"),
        _("Template"),
        _("Status"),
        _("Attempts"),
        _("Error"),
        _("Queued (UTC)"),
        _("Last attempt (UTC)"),
        "",
    ]
    export_columns = list(DETAIL_FIELDS)
    export_basename = "mail-sends"
    list_template_name = "admin/mail/send_list.html"
    filter_form_id = "mail-send-filters"
    empty_message = _("No mails match these filters.")
    unavailable_message = _("MongoDB is unavailable: send records cannot be shown right now.")

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        resend = path(
            "<str:object_id>/resend/",
            self.admin_site.admin_view(require_http_methods(["GET", "POST"])(self.resend_view)),
            name="{}_{}_resend".format(*info),
        )
        return [resend, *super().get_urls()]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(RESEND_PERMISSION))

    def build_query(self, filters: Any, search: str, params: QueryDict) -> Any:
        return send_query(filters, search=search or None)

    def fetch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return send_page_sync(query, offset=offset, limit=limit)

    def export(self, query: Any, limit: int) -> tuple[int, Iterator[dict[str, Any]]]:
        return send_export_sync(query, fields=[key for key, _h in self.export_columns], limit=limit)

    def list_view(self, request: HttpRequest) -> HttpResponse:
        # The rows are drawn without the request: whether they get a "Resend" link is decided here, per request.
        token = _may_resend.set(self.has_resend_permission(request))
        try:
            return super().list_view(request)
        finally:
            _may_resend.reset(token)

    def _url(self, view: str, mail_id: str) -> str:
        return reverse(f"{self.admin_site.name}:mail_mailsendentry_{view}", args=[mail_id])

    def table_row(self, row: dict[str, Any]) -> list[Any]:
        to = ", ".join(row["to"]) or "-"
        action: Any = ""
        if resendable(row) and _may_resend.get():
            action = format_html(
                '<a class="text-primary-600 whitespace-nowrap resend-link" href="{}">{}</a>',
                self._url("resend", row["mail_id"]),
                gettext("Resend"),
            )
        return [
            format_html(
                '<a class="text-primary-600" href="{}">{}</a>', self._url("change", row["mail_id"]), clipped(to, 40)
            ),
            clipped(row.get("template"), 24),
            status_badge(row.get("status")),
            row.get("attempts", 0),
            clipped(row.get("error"), 48),
            moment(row.get("queued_at")),
            moment(row.get("last_attempt_at")),
            action,
        ]

    def _record(self, object_id: str) -> dict[str, Any]:
        try:
            record = send_get_sync(object_id[:64])
        except PyMongoError:
            record = None
        if record is None:
            raise Http404(gettext("No such mail"))
        return record

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.require_view(request)
        record = self._record(object_id)
        fields = [(label, self._value(record.get(key))) for key, label in DETAIL_FIELDS]
        context = {
            **self.base_context(request, gettext("Mail %(id)s") % {"id": record["mail_id"]}),
            "fields": fields,
            "status_badge": status_badge(record.get("status")),
            "resend_url": (
                self._url("resend", record["mail_id"])
                if resendable(record) and self.has_resend_permission(request)
                else None
            ),
            "list_url": reverse(f"{self.admin_site.name}:mail_mailsendentry_changelist"),
        }
        return TemplateResponse(request, "admin/mail/send_detail.html", context)

    @staticmethod
    def _value(value: Any) -> str:
        if value is None or value == []:
            return "-"
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return str(value)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what would be resent, and a confirm button; POST (CSRF-checked): queue it again, like the API."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        record = self._record(object_id)
        detail_url = self._url("change", record["mail_id"])
        if request.method == "POST":
            try:
                new_id = mail_resend_sync(mail_id=record["mail_id"])
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(detail_url)
            except PyMongoError:
                self.message_user(request, str(self.unavailable_message), messages.ERROR)
                return HttpResponseRedirect(detail_url)
            self.message_user(
                request, gettext("The mail was queued again as mail %(id)s.") % {"id": new_id}, messages.SUCCESS
            )
            return HttpResponseRedirect(self._url("change", new_id))
        if not resendable(record):
            self.message_user(request, gettext("Only a failed mail can be resent, and only once"), messages.WARNING)
            return HttpResponseRedirect(detail_url)
        context = {
            **self.base_context(request, gettext("Resend this mail?")),
            "record": record,
            "to": ", ".join(record["to"]),
            "detail_url": detail_url,
        }
        return TemplateResponse(request, "admin/mail/send_resend.html", context)
