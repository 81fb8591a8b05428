"""Read-only admin pages for the MongoDB logs: filters, bounded search, page numbers, CSV export, a detail page.

The tableless anchor models (apps.audit.models) give the admin index and sidebar their entries and the
`view` permissions; their ModelAdmins replace the changelist and change views with pages that read
MongoDB through the selectors (apps.core.admin.DocumentListAdmin). Nothing here can add, change or delete a log.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pymongo.errors import PyMongoError

from apps.audit.models import LoginLogEntry, OperationLogEntry
from apps.audit.schemas import LoginLogFilter, OperationLogFilter
from apps.audit.selectors import (
    login_log_export,
    login_log_get,
    login_log_page,
    operation_log_export,
    operation_log_get,
    operation_log_page,
)
from apps.core.admin import TIME_HINT, DocumentListAdmin, ListFilter, badge, clipped, http_status_tone, moment

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# `status=5xx` (any case) filters a class of statuses; anything else must be one exact status.
STATUS_CLASS = re.compile(r"([1-5])xx", re.IGNORECASE)


class _LogAdmin(DocumentListAdmin):
    list_template_name = "admin/audit/log_list.html"
    filter_form_id = "audit-filters"
    filter_errors_id = "audit-filter-errors"
    empty_message = _("No logs match these filters.")
    detail_template_name = "admin/audit/log_detail.html"

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def detail_link(self, row: dict[str, Any], text: str) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[row["id"]])
        return format_html('<a href="{}" class="text-primary-600 whitespace-nowrap">{}</a>', url, text)

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.require_view(request)
        try:
            row = self.fetch_one(object_id)
        except PyMongoError:
            row = None
        if row is None:
            raise Http404(gettext("No such log"))
        fields = [(key, self._detail_value(value)) for key, value in row.items()]
        context = {
            **self.base_context(request, f"{str(self.opts.verbose_name).capitalize()} {object_id}"),
            "fields": fields,
            "list_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        }
        return TemplateResponse(request, self.detail_template_name, context)

    @staticmethod
    def _detail_value(value: Any) -> str:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False, default=str)
        if value is None:
            return "-"
        return str(value)


def _status_class(params: QueryDict) -> int | None:
    match = STATUS_CLASS.fullmatch(params.get("status", "").strip())
    return int(match.group(1)) if match else None


@admin.register(OperationLogEntry)
class OperationLogAdmin(_LogAdmin):
    filter_schema = OperationLogFilter
    filters = [
        ListFilter("method", _("Method"), "select", lambda: [(m, m) for m in METHODS]),
        ListFilter("status", _("Status"), placeholder=_("404, or 4xx / 5xx")),
        ListFilter("path", _("Path contains")),
        ListFilter("username", _("Username contains")),
        ListFilter("user_id", _("User id")),
        ListFilter("since", _("Since (UTC)"), placeholder=TIME_HINT, width="w-48"),
        ListFilter("until", _("Until (UTC)"), placeholder=TIME_HINT, width="w-48"),
    ]
    search_placeholder = _("Path, username, request id or IP")
    headers = [_("Time (UTC)"), _("Method"), _("Path"), _("Status"), _("User"), _("IP"), _("ms")]
    # No request body or query: they can be large, and they are on each log's page.
    export_columns = [
        ("created_at", _("time")),
        ("request_id", _("request id")),
        ("user_id", _("user id")),
        ("username", _("username")),
        ("method", _("method")),
        ("path", _("path")),
        ("route", _("route")),
        ("status", _("status")),
        ("duration_ms", _("duration ms")),
        ("ip", _("ip")),
        ("browser", _("browser")),
        ("os", _("os")),
        ("device", _("device")),
        ("body_size", _("body size")),
    ]
    export_basename = "operation-logs"

    def filter_values(self, params: QueryDict) -> dict[str, Any]:
        values = super().filter_values(params)
        if _status_class(params) is not None:
            values.pop("status")  # a class, not one status: the selector takes it apart from the schema
        return values

    def build_query(self, filters: Any, search: str, params: QueryDict) -> Any:
        return {"filters": filters, "search": search or None, "status_class": _status_class(params)}

    def fetch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return operation_log_page(offset=offset, limit=limit, **query)

    def export(self, query: Any, limit: int) -> tuple[int, Iterator[dict[str, Any]]]:
        return operation_log_export(fields=[key for key, _h in self.export_columns], limit=limit, **query)

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        return operation_log_get(log_id=log_id)

    def table_row(self, row: dict[str, Any]) -> list[Any]:
        status = row.get("status")
        return [
            self.detail_link(row, moment(row.get("created_at"))),
            badge(row.get("method") or "-", "primary" if row.get("method") != "GET" else "default"),
            clipped(row.get("path"), 40),
            badge(status if status is not None else "-", http_status_tone(status)),
            clipped(row.get("username"), 14),
            clipped(row.get("ip"), 18),
            f"{row['duration_ms']:.1f}" if row.get("duration_ms") is not None else "-",
        ]


@admin.register(LoginLogEntry)
class LoginLogAdmin(_LogAdmin):
    filter_schema = LoginLogFilter
    filters = [
        ListFilter(
            "success", _("Result"), "select", lambda: [("true", gettext("Success")), ("false", gettext("Failure"))]
        ),
        ListFilter("username", _("Username contains")),
        ListFilter("ip", _("IP")),
        ListFilter("user_id", _("User id")),
        ListFilter("since", _("Since (UTC)"), placeholder=TIME_HINT, width="w-48"),
        ListFilter("until", _("Until (UTC)"), placeholder=TIME_HINT, width="w-48"),
    ]
    search_placeholder = _("Username, IP or reason")
    headers = [_("Time (UTC)"), _("Username"), _("Result"), _("Reason"), _("Channel"), _("IP"), _("Browser"), _("OS")]
    export_columns = [
        ("created_at", _("time")),
        ("username", _("username")),
        ("user_id", _("user id")),
        ("success", _("success")),
        ("reason", _("reason")),
        ("channel", _("channel")),
        ("event", _("event")),
        ("ip", _("ip")),
        ("browser", _("browser")),
        ("os", _("os")),
        ("device", _("device")),
        ("user_agent", _("user agent")),
        ("request_id", _("request id")),
    ]
    export_basename = "login-logs"

    def build_query(self, filters: Any, search: str, params: QueryDict) -> Any:
        return {"filters": filters, "search": search or None}

    def fetch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return login_log_page(offset=offset, limit=limit, **query)

    def export(self, query: Any, limit: int) -> tuple[int, Iterator[dict[str, Any]]]:
        return login_log_export(fields=[key for key, _h in self.export_columns], limit=limit, **query)

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        return login_log_get(log_id=log_id)

    def table_row(self, row: dict[str, Any]) -> list[Any]:
        success = bool(row.get("success"))
        return [
            self.detail_link(row, moment(row.get("created_at"))),
            clipped(row.get("username"), 24),
            badge(gettext("success") if success else gettext("failure"), "success" if success else "danger"),
            clipped(row.get("reason"), 24),
            badge(row.get("channel") or "api", "primary" if row.get("channel") == "admin" else "default"),
            clipped(row.get("ip"), 20),
            clipped(row.get("browser"), 24),
            clipped(row.get("os"), 20),
        ]
