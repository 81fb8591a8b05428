"""Admin building blocks shared by the apps: read-only records, and list pages over MongoDB documents.

The MongoDB-backed pages (operation logs, login logs, task runs) are plain views, not Django changelists. The
pieces here give them what a changelist has in unfold — filters, bounded search and page parameters, page
numbers, coloured badges — plus a CSV export of the filtered list, in one place for every such page.
"""

import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, ClassVar, Literal, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe
from ninja import Schema
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

logger = logging.getLogger("apps.core.admin")

LIST_PAGE_SIZE = 50
# Longer search text is cut: a substring search becomes a regex, and MongoDB-wire servers cap pattern length.
MAX_SEARCH_LENGTH = 200
# Far beyond any list these pages show; more digits than this is "past the end", never an int64 overflow.
MAX_PAGE_DIGITS = 7
PAST_THE_END = 10**MAX_PAGE_DIGITS
# An export streams at most this many rows (newest first); the response says when it stopped there.
EXPORT_MAX_ROWS = 50_000
EXPORT_BATCH = 500

# The placeholder of time filters: what they take besides full ISO-8601 (naive = UTC).
TIME_HINT = _("YYYY-MM-DD HH:MM")

Tone = Literal["success", "danger", "warning", "info", "primary", "default"]


class ReadOnlyAdminMixin:
    """For records written by the system (logs, task runs): they can be listed and read, never edited."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- cells ---------------------------------------------------------------------------------------------------


def badge(text: Any, tone: Tone = "default") -> SafeString:
    """A coloured label, the one unfold draws for `@display(label=...)` columns."""
    return SafeString(render_to_string("unfold/helpers/label.html", {"text": text, "type": tone}).strip())


def http_status_tone(status: int | None) -> Tone:
    if status is None:
        return "default"
    if status >= 500:
        return "danger"
    if status >= 400:
        return "warning"
    if status >= 300:
        return "info"
    return "success"


def clipped(value: Any, limit: int) -> str | SafeString:
    """Text on one line, cut to `limit` characters for a table cell; the whole text is the tooltip."""
    if value is None or value == "":
        return "-"
    text = str(value)
    if len(text) <= limit:
        return format_html('<span class="whitespace-nowrap">{}</span>', text)
    return format_html('<span class="whitespace-nowrap" title="{}">{}…</span>', text, text[: limit - 1])


def moment(value: datetime | None) -> str:
    if value is None:
        return "-"
    return format_html('<span class="whitespace-nowrap">{}</span>', value.strftime("%Y-%m-%d %H:%M:%S"))


# --- query parameters ----------------------------------------------------------------------------------------


def bounded_search(params: QueryDict, name: str = "q") -> tuple[str, str | None]:
    """The search text of a list page, cut to MAX_SEARCH_LENGTH characters (with a message when it was)."""
    text = params.get(name, "").replace("\x00", "").strip()
    if len(text) <= MAX_SEARCH_LENGTH:
        return text, None
    message = gettext("The search text was cut to its first %(limit)d characters.") % {"limit": MAX_SEARCH_LENGTH}
    return text[:MAX_SEARCH_LENGTH].strip(), message


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def inclusive_until(value: str) -> str:
    """An `until` filter given as a bare day means "up to the end of that day" (the next midnight)."""
    if not _DAY.fullmatch(value):
        return value
    try:
        return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
    except (ValueError, OverflowError):  # not a real day, or the day after 9999-12-31: let validation say so
        return value


@dataclass(frozen=True)
class ListFilter:
    """One filter of a list page: a query parameter, its label and its input."""

    name: str
    label: Any
    kind: Literal["text", "select"] = "text"
    choices: Callable[[], Sequence[tuple[str, Any]]] | None = None
    placeholder: Any = ""
    width: str = "w-40"  # a Tailwind width class unfold's stylesheet has

    def widget(self, value: str) -> SafeString:
        attrs = {"id": f"filter-{self.name}", "aria-label": str(self.label)}
        if self.kind == "select":
            options = [("", gettext("Any")), *(self.choices() if self.choices else [])]
            if value and value not in {key for key, _label in options}:
                options.append((value, value))  # e.g. a task no longer registered, linked from elsewhere
            return SafeString(UnfoldAdminSelectWidget(attrs=attrs, choices=options).render(self.name, value))
        if self.placeholder:
            attrs["placeholder"] = str(self.placeholder)
        return SafeString(UnfoldAdminTextInputWidget(attrs=attrs).render(self.name, value))


S = TypeVar("S", bound=Schema)


def validate_filters(
    schema: type[S], values: dict[str, Any], labels: dict[str, Any], *, drop_invalid: bool
) -> tuple[S | None, list[str]]:
    """The filters of a list page as the API's schema, and a message per refused value.

    With `drop_invalid` a refused value is left out (the rest still filter); otherwise nothing is listed.
    """
    try:
        return schema.model_validate(values), []
    except ValidationError as exc:
        errors = exc.errors()
    invalid = {str(error["loc"][0]) for error in errors if error["loc"]}
    messages = []
    for error in errors:
        name = str(error["loc"][0]) if error["loc"] else ""
        text = gettext("%(field)s: %(error)s") % {"field": labels.get(name, name), "error": error["msg"]}
        messages.append(gettext("%(message)s (ignored)") % {"message": text} if drop_invalid else text)
    if not drop_invalid:
        return None, messages
    return schema.model_validate({k: v for k, v in values.items() if k not in invalid}), messages


# --- pagination ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageLink:
    label: str
    url: str | None  # None: the current page, an ellipsis, or a link that leads nowhere from here
    kind: Literal["first", "previous", "number", "current", "ellipsis", "next", "last"]


@dataclass
class Pagination:
    number: int
    pages: int
    total: int
    per_page: int
    links: list[PageLink] = field(default_factory=list)
    message: str | None = None

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.per_page + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.number * self.per_page)

    def html(self) -> SafeString:
        """Unfold's page numbers: first, previous, numbers with ellipses, next, last."""
        parts = []
        for link in self.links:
            if link.kind == "current":
                parts.append(
                    format_html('<span class="font-medium text-primary-600" aria-current="page">{}</span>', link.label)
                )
            elif link.kind == "ellipsis":
                parts.append(format_html("<span>{}</span>", link.label))
            elif link.url is None:
                parts.append(format_html('<span class="opacity-50">{}</span>', link.label))
            else:
                rel = {"previous": "prev", "next": "next"}.get(link.kind, "")
                parts.append(
                    format_html('<a href="{}" class="page-{}" rel="{}">{}</a>', link.url, link.kind, rel, link.label)
                )
        return format_html_join("", '<div class="pr-4">{}</div>', ((part,) for part in parts))


def requested_page(raw: str) -> tuple[int, str | None]:
    """The page number asked for: a bad value means page 1 (with a message); a huge one is past the end."""
    text = raw.strip()
    if not text:
        return 1, None
    digits = text.lstrip("0")
    if not text.isascii() or not text.isdigit() or not digits:
        return 1, gettext("“%(page)s” is not a page number; showing page 1.") % {"page": text[:20]}
    if len(digits) > MAX_PAGE_DIGITS:  # checked before int(): no huge conversion, no int64 overflow later
        return PAST_THE_END, None
    return int(digits), None


def _page_url(params: QueryDict, name: str, number: int) -> str:
    query = params.copy()
    query[name] = str(number)
    return f"?{query.urlencode()}"


def paginate(
    params: QueryDict,
    fetch: Callable[[int, int], tuple[list[Any], int]],
    *,
    per_page: int = LIST_PAGE_SIZE,
    name: str = "p",
) -> tuple[list[Any], Pagination]:
    """One page of rows from `fetch(offset, limit) -> (rows, total)`, and its page numbers.

    A page past the end shows the last page with a message (one more fetch, only then).
    """
    number, message = requested_page(params.get(name, ""))
    rows, total = fetch((number - 1) * per_page, per_page)
    pages = max(1, -(-total // per_page))
    if number > pages:
        asked = params.get(name, "").strip()
        message = gettext("There is no page %(page)s; showing the last page (%(last)d).") % {
            "page": asked if len(asked) <= 20 else asked[:20] + "…",
            "last": pages,
        }
        number = pages
        rows, total = fetch((number - 1) * per_page, per_page)
        pages = max(1, -(-total // per_page))
        number = min(number, pages)

    def link(label: str, target: int, kind: Any) -> PageLink:
        reachable = 1 <= target <= pages and target != number
        return PageLink(label, _page_url(params, name, target) if reachable else None, kind)

    links = [link("«", 1, "first"), link("‹", number - 1, "previous")]
    paginator = Paginator(range(total), per_page)
    for item in paginator.get_elided_page_range(number, on_each_side=2, on_ends=1):
        if item == paginator.ELLIPSIS:
            links.append(PageLink(str(item), None, "ellipsis"))
        elif item == number:
            links.append(PageLink(str(item), None, "current"))
        else:
            links.append(link(str(item), int(item), "number"))
    links += [link("›", number + 1, "next"), link("»", pages, "last")]
    return rows, Pagination(number=number, pages=pages, total=total, per_page=per_page, links=links, message=message)


# --- CSV export ----------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as spreadsheet-safe CSV text: ISO-8601 times, and no text a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def _csv_chunks(columns: Sequence[tuple[str, Any]], rows: Iterator[dict[str, Any]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(header) for _key, header in columns])
    yield "\ufeff" + buffer.getvalue()  # a BOM, so spreadsheet apps read UTF-8 (e.g. Chinese names) correctly
    # The cursor is read in batches off the event loop: under ASGI a sync iterator would be read whole first.
    next_batch = sync_to_async(lambda: list(islice(rows, EXPORT_BATCH)), thread_sensitive=False)
    while True:
        try:
            batch = await next_batch()
        except PyMongoError:
            logger.warning("CSV export stopped: MongoDB became unavailable")
            return
        if not batch:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            writer.writerow([csv_cell(row.get(key)) for key, _header in columns])
        yield buffer.getvalue()


def csv_response(
    *, basename: str, columns: Sequence[tuple[str, Any]], rows: Iterator[dict[str, Any]], total: int, cap: int
) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_chunks(columns, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{basename}-{stamp}.csv"'
    response["X-Export-Rows"] = str(min(total, cap))
    response["X-Export-Truncated"] = "true" if total > cap else "false"
    response["Cache-Control"] = "no-store"
    return response


# --- the list page -------------------------------------------------------------------------------------------


class DocumentListAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """A read-only list (filters, search, page numbers, CSV export) and detail page over MongoDB documents.

    Registered on a tableless anchor model, whose `view` permission guards every page. Subclasses say how the
    filters become a query, how to fetch a page and the export rows, and how a row is drawn.
    """

    filter_schema: ClassVar[type[Schema]]
    filters: ClassVar[Sequence[ListFilter]]
    # A refused filter value: left out with a message (True), or the list is empty with a message (False).
    drop_invalid_filters: ClassVar[bool] = False
    headers: ClassVar[Sequence[Any]]
    export_columns: ClassVar[Sequence[tuple[str, Any]]]
    export_basename: ClassVar[str]
    search_label: ClassVar[Any] = _("Search")
    search_placeholder: ClassVar[Any] = ""
    list_template_name: ClassVar[str]
    empty_message: ClassVar[Any] = _("No records match these filters.")
    filter_form_id: ClassVar[str] = "list-filters"
    filter_errors_id: ClassVar[str] = "list-filter-errors"
    unavailable_message: ClassVar[Any] = _("MongoDB is unavailable: these records cannot be shown right now.")

    # -- what each page says --

    def filter_values(self, params: QueryDict) -> dict[str, Any]:
        """The filter values handed to the schema (parameters left empty are absent)."""
        values: dict[str, Any] = {}
        for spec in self.filters:
            value = params.get(spec.name, "").strip()
            if value:
                values[spec.name] = inclusive_until(value) if spec.name == "until" else value
        return values

    def build_query(self, filters: Any, search: str, params: QueryDict) -> Any:
        raise NotImplementedError

    def fetch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        raise NotImplementedError

    def export(self, query: Any, limit: int) -> tuple[int, Iterator[dict[str, Any]]]:
        """The total matching rows and an iterator over at most `limit` of them, newest first."""
        raise NotImplementedError

    def table_row(self, row: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def list_context(self, request: HttpRequest, filters: Any) -> dict[str, Any]:
        return {}

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        raise NotImplementedError

    # -- the views --

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(require_safe(self.list_view)), name="{}_{}_changelist".format(*info)),
            path("export/", wrap(require_safe(self.export_view)), name="{}_{}_export".format(*info)),
            path("<str:object_id>/", wrap(require_safe(self.detail_view)), name="{}_{}_change".format(*info)),
        ]

    def require_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _parsed(self, request: HttpRequest) -> tuple[Any, str, list[str], list[str]]:
        """(filters or None, search text, filter errors, notices about the search)."""
        search, search_message = bounded_search(request.GET)
        labels = {spec.name: spec.label for spec in self.filters}
        filters, errors = validate_filters(
            self.filter_schema, self.filter_values(request.GET), labels, drop_invalid=self.drop_invalid_filters
        )
        return filters, search, errors, [search_message] if search_message else []

    def base_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "has_view_permission": True,
        }

    def list_view(self, request: HttpRequest) -> HttpResponse:
        self.require_view(request)
        filters, search, errors, notices = self._parsed(request)
        rows: list[dict[str, Any]] = []
        pagination = Pagination(number=1, pages=1, total=0, per_page=LIST_PAGE_SIZE)
        error = None
        if filters is not None:
            query = self.build_query(filters, search, request.GET)
            try:
                rows, pagination = paginate(request.GET, lambda offset, limit: self.fetch(query, offset, limit))
            except PyMongoError:
                error = str(self.unavailable_message)
        if pagination.message:
            notices.append(pagination.message)
        export_query = request.GET.copy()
        export_query.pop("p", None)
        info = self.opts.app_label, self.opts.model_name
        context = {
            **self.base_context(request, str(self.opts.verbose_name_plural).capitalize()),
            "filters": [(spec, spec.widget(request.GET.get(spec.name, ""))) for spec in self.filters],
            "search": search,
            "search_label": self.search_label,
            "search_widget": ListFilter("q", self.search_label, placeholder=self.search_placeholder).widget(search),
            "filter_errors": errors,
            "filter_form_id": self.filter_form_id,
            "filter_errors_id": self.filter_errors_id,
            "empty_message": self.empty_message,
            "notices": notices,
            "error": error,
            "table": {"headers": list(self.headers), "rows": [self.table_row(row) for row in rows]},
            "pagination": pagination,
            "export_url": reverse("admin:{}_{}_export".format(*info))
            + (f"?{export_query.urlencode()}" if export_query else ""),
            "export_cap": EXPORT_MAX_ROWS,
            "export_capped": pagination.total > EXPORT_MAX_ROWS,
            **self.list_context(request, filters),
        }
        return TemplateResponse(request, self.list_template_name, context)

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        self.require_view(request)
        filters, search, errors, _notices = self._parsed(request)
        if filters is None:
            return self._export_refused(request, errors)
        try:
            total, rows = self.export(self.build_query(filters, search, request.GET), EXPORT_MAX_ROWS)
        except PyMongoError:
            return self._export_refused(request, [str(self.unavailable_message)])
        return csv_response(
            basename=self.export_basename, columns=self.export_columns, rows=rows, total=total, cap=EXPORT_MAX_ROWS
        )

    def _export_refused(self, request: HttpRequest, messages: list[str]) -> HttpResponse:
        """The export cannot run: a plain-text reason with 400/503, never a half-made file."""
        unavailable = messages == [str(self.unavailable_message)]
        body = "\n".join([gettext("Nothing was exported."), *messages]) + "\n"
        return HttpResponse(body, status=503 if unavailable else 400, content_type="text/plain; charset=utf-8")
