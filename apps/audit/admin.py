"""Read-only admin pages for the MongoDB logs: list with filters, search and pagination, and a detail page.

The tableless anchor models (apps.audit.models) give the admin index and sidebar their entries and the
`view` permissions; their ModelAdmins replace the changelist and change views with pages that read
MongoDB through the selectors. Nothing here can add, change or delete a log.
"""

import json
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_safe
from pydantic import ValidationError
from unfold.admin import ModelAdmin

from apps.audit.models import LoginLogEntry, OperationLogEntry
from apps.audit.schemas import LoginLogFilter, OperationLogFilter
from apps.audit.selectors import login_log_get, login_log_page, operation_log_get, operation_log_page
from apps.core.admin import ReadOnlyAdminMixin

PAGE_SIZE = 50


class _MongoLogAdmin(ReadOnlyAdminMixin, ModelAdmin):
    filter_schema: ClassVar[type[OperationLogFilter] | type[LoginLogFilter]]
    # (name, label, input kind): "text", "number", "datetime-local", "bool" or "method" (the last two: selects)
    filter_fields: ClassVar[list[tuple[str, str, str]]]
    columns: ClassVar[list[tuple[str, str]]]  # (key, header)
    list_template_name = "admin/audit/log_list.html"
    detail_template_name = "admin/audit/log_detail.html"

    def fetch_page(self, filters: Any, offset: int, limit: int, search: str | None) -> tuple[list[dict[str, Any]], int]:
        raise NotImplementedError

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap: Callable[..., Any] = self.admin_site.admin_view
        return [
            path("", wrap(require_safe(self.list_view)), name="{}_{}_changelist".format(*info)),
            path("<str:log_id>/", wrap(require_safe(self.detail_view)), name="{}_{}_change".format(*info)),
        ]

    def _require_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _parse_filters(self, request: HttpRequest) -> tuple[Any, list[str]]:
        values = {name: request.GET.get(name, "").strip() for name, _label, _type in self.filter_fields}
        present = {name: value for name, value in values.items() if value}
        try:
            return self.filter_schema.model_validate(present), []
        except ValidationError as exc:
            errors = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
            return None, errors

    def list_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        filters, errors = self._parse_filters(request)
        search = request.GET.get("q", "").strip() or None
        try:
            page = max(1, int(request.GET.get("p", "1")))
        except ValueError:
            page = 1
        rows: list[dict[str, Any]] = []
        total = 0
        if filters is not None:
            rows, total = self.fetch_page(filters, (page - 1) * PAGE_SIZE, PAGE_SIZE, search)
        pages = max(1, -(-total // PAGE_SIZE))
        info = self.opts.app_label, self.opts.model_name
        table_rows = []
        for row in rows:
            link = reverse("admin:{}_{}_change".format(*info), args=[row["id"]])
            cells = [self._cell(row, key) for key, _header in self.columns]
            cells[0] = format_html('<a href="{}" class="text-primary-600">{}</a>', link, cells[0])
            table_rows.append(cells)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(self.opts.verbose_name_plural).capitalize(),
            "filter_fields": [
                (name, label, kind, request.GET.get(name, "")) for name, label, kind in self.filter_fields
            ],
            "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            "search": search or "",
            "errors": errors,
            "table": {"headers": [header for _key, header in self.columns], "rows": table_rows},
            "total": total,
            "page": page,
            "pages": pages,
            "previous_url": self._page_url(request, page - 1) if page > 1 else None,
            "next_url": self._page_url(request, page + 1) if page < pages else None,
        }
        return TemplateResponse(request, self.list_template_name, context)

    def detail_view(self, request: HttpRequest, log_id: str) -> HttpResponse:
        self._require_view(request)
        row = self.fetch_one(log_id)
        if row is None:
            raise Http404("No such log")
        fields = [(key, self._detail_value(value)) for key, value in row.items()]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{str(self.opts.verbose_name).capitalize()} {log_id}",
            "fields": fields,
            "list_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        }
        return TemplateResponse(request, self.detail_template_name, context)

    @staticmethod
    def _page_url(request: HttpRequest, page: int) -> str:
        params = request.GET.copy()
        params["p"] = str(page)
        return f"?{params.urlencode()}"

    @staticmethod
    def _cell(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        if key == "created_at":
            return value.strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    @staticmethod
    def _detail_value(value: Any) -> str:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False, default=str)
        if value is None:
            return "-"
        return str(value)


@admin.register(OperationLogEntry)
class OperationLogAdmin(_MongoLogAdmin):
    filter_schema = OperationLogFilter
    filter_fields = [
        ("user_id", "User id", "text"),
        ("username", "Username contains", "text"),
        ("method", "Method", "method"),
        ("path", "Path contains", "text"),
        ("status", "Status", "number"),
        ("since", "Since (UTC)", "datetime-local"),
        ("until", "Until (UTC)", "datetime-local"),
    ]
    columns = [
        ("created_at", "time"),
        ("method", "method"),
        ("path", "path"),
        ("status", "status"),
        ("username", "user"),
        ("ip", "ip"),
        ("duration_ms", "ms"),
    ]

    def fetch_page(self, filters: Any, offset: int, limit: int, search: str | None) -> tuple[list[dict[str, Any]], int]:
        return operation_log_page(filters=filters, offset=offset, limit=limit, search=search)

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        return operation_log_get(log_id=log_id)


@admin.register(LoginLogEntry)
class LoginLogAdmin(_MongoLogAdmin):
    filter_schema = LoginLogFilter
    filter_fields = [
        ("username", "Username contains", "text"),
        ("success", "Success", "bool"),
        ("ip", "IP", "text"),
        ("since", "Since (UTC)", "datetime-local"),
        ("until", "Until (UTC)", "datetime-local"),
    ]
    columns = [
        ("created_at", "time"),
        ("username", "username"),
        ("success", "success"),
        ("reason", "reason"),
        ("ip", "ip"),
        ("browser", "browser"),
        ("os", "os"),
    ]

    def fetch_page(self, filters: Any, offset: int, limit: int, search: str | None) -> tuple[list[dict[str, Any]], int]:
        return login_log_page(filters=filters, offset=offset, limit=limit, search=search)

    def fetch_one(self, log_id: str) -> dict[str, Any] | None:
        return login_log_get(log_id=log_id)
