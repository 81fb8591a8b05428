"""Admin: django-celery-beat's pages in the project's admin style, and a read-only page of task runs.

The periodic-task form offers the registered tasks (the same list as /tasks/registered) and checks that args is
a JSON array and kwargs a JSON object; each periodic task links to its runs. Task runs live in MongoDB, so their
page is a plain view over the documents with filters, registered on a tableless model (apps.scheduler.models).
"""

import json
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django_celery_beat.admin import ClockedScheduleAdmin as BeatClockedScheduleAdmin
from django_celery_beat.admin import CrontabScheduleAdmin as BeatCrontabScheduleAdmin
from django_celery_beat.admin import IntervalScheduleAdmin as BeatIntervalScheduleAdmin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.admin import PeriodicTaskForm
from django_celery_beat.admin import PeriodicTaskInline as BeatPeriodicTaskInline
from django_celery_beat.admin import SolarScheduleAdmin as BeatSolarScheduleAdmin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from unfold.admin import ModelAdmin, TabularInline
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import ValidationFailed
from apps.scheduler.documents import RunStatus
from apps.scheduler.models import TaskRunEntry
from apps.scheduler.schemas import TaskRunFilter
from apps.scheduler.selectors import registered_task_names, task_run_get_sync, task_run_page_sync, task_run_query
from apps.scheduler.services import check_arguments

RUNS_PAGE_SIZE = 50


def task_runs_url(**filters: Any) -> str:
    url = reverse("admin:scheduler_taskrunentry_changelist")
    query = {k: v for k, v in filters.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


# --- django-celery-beat ----------------------------------------------------------------------------------


class RegisteredTaskSelect(UnfoldAdminSelectWidget):
    """A select of the registered tasks, read when the form is rendered (not when the module is imported)."""

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [("", "---------")] + [(name, name) for name in registered_task_names()]

    @choices.setter
    def choices(self, value: Any) -> None:
        pass  # Select.__init__ assigns choices; ours are computed


class PeriodicTaskAdminForm(PeriodicTaskForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["regtask"].widget = RegisteredTaskSelect()
        self.fields["task"].widget = UnfoldAdminTextInputWidget()

    def _json_of_kind(self, field: str, kind: type, label: str) -> str:
        value: str = self._clean_json(field)
        if not isinstance(json.loads(value or "null"), kind):
            raise forms.ValidationError(f"Must be a JSON {label}.")
        return value

    def clean_args(self) -> str:
        return self._json_of_kind("args", list, 'array, e.g. [] or [1, "a"]')

    def clean_kwargs(self) -> str:
        return self._json_of_kind("kwargs", dict, 'object, e.g. {} or {"key": "value"}')

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        # The same signature check as the API: a schedule the task cannot run is refused now, not at every run.
        if data.get("task") and "args" in data and "kwargs" in data:
            try:
                check_arguments(data["task"], json.loads(data["args"]), json.loads(data["kwargs"]), loc=[])
            except ValidationFailed as exc:
                self.add_error(exc.data[0]["loc"][-1], exc.message)
        return data


for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin, ModelAdmin):
    form = PeriodicTaskAdminForm
    list_display = ("name", "task", "enabled", "scheduler", "one_off", "last_run_at", "total_run_count", "runs")
    readonly_fields = ("last_run_at", "crontab_translation", "total_run_count", "runs")
    fieldsets = (
        (None, {"fields": ("name", "regtask", "task", "enabled", "description", "runs")}),
        (
            "Schedule",
            {
                "fields": (
                    "interval",
                    "crontab",
                    "crontab_translation",
                    "solar",
                    "clocked",
                    "start_time",
                    "last_run_at",
                    "total_run_count",
                    "one_off",
                )
            },
        ),
        ("Arguments", {"fields": ("args", "kwargs"), "classes": ("collapse",)}),
        (
            "Execution options",
            {
                "fields": ("expires", "expire_seconds", "queue", "exchange", "routing_key", "priority", "headers"),
                "classes": ("collapse",),
            },
        ),
    )

    @admin.display(description="Runs")
    def runs(self, obj: PeriodicTask) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">View runs</a>', task_runs_url(schedule=obj.pk))

    def crontab_translation(self, obj: PeriodicTask) -> str:
        return obj.crontab.human_readable if obj.crontab is not None else "-"


class PeriodicTaskInline(BeatPeriodicTaskInline, TabularInline):
    pass


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(BeatIntervalScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(BeatCrontabScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(SolarSchedule)
class SolarScheduleAdmin(BeatSolarScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(BeatClockedScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


# --- task runs -------------------------------------------------------------------------------------------


def _moment(value: str | None, *, next_day: bool = False) -> datetime | None:
    """A datetime from a filter field: a full timestamp, or a date (its start, or with next_day its end)."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment is not None else parse_date(value)
    except ValueError:
        return None
    if moment is not None:
        return moment
    if day is None:
        return None
    try:
        return datetime.combine(day + timedelta(days=1 if next_day else 0), time.min)
    except OverflowError:  # the day after 9999-12-31
        return None


def _run_filters(params: Any) -> TaskRunFilter:
    """The task-run filters of the page's query; a value the API would refuse (42200) is ignored here."""
    schedule_text = params.get("schedule", "").strip()
    status_text = params.get("status", "").strip()
    values = {
        "task": params.get("task", "").strip() or None,
        "schedule": int(schedule_text) if schedule_text.isdigit() else None,
        "status": RunStatus(status_text) if status_text in RunStatus.__members__ else None,
        "since": _moment(params.get("since")),
        "until": _moment(params.get("until"), next_day=True),
    }
    try:
        return TaskRunFilter.model_validate(values)
    except ValidationError as exc:
        invalid = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        return TaskRunFilter.model_validate({k: v for k, v in values.items() if k not in invalid})


@admin.register(TaskRunEntry)
class TaskRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Read-only list and detail of the task-run records, with filters; nothing can be added or changed."""

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info)),
            path("<str:task_id>/", self.admin_site.admin_view(self.detail_view), name="{}_{}_change".format(*info)),
        ]

    def _context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "has_view_permission": True,
        }

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        params = request.GET
        filters = _run_filters(params)
        query = task_run_query(filters)
        task_id = params.get("q", "").strip()
        if task_id:
            query["task_id"] = task_id
        try:
            page_number = max(1, int(params.get("p", "1")))
        except ValueError:
            page_number = 1
        error = None
        try:
            runs, total = task_run_page_sync(query, offset=(page_number - 1) * RUNS_PAGE_SIZE, limit=RUNS_PAGE_SIZE)
        except PyMongoError:
            runs, total, error = [], 0, "MongoDB is unavailable: task runs cannot be shown right now."
        pages = max(1, -(-total // RUNS_PAGE_SIZE))
        current = {k: params.get(k, "") for k in ("task", "schedule", "status", "since", "until", "q")}
        schedule = PeriodicTask.objects.filter(pk=filters.schedule).first() if filters.schedule else None
        context = {
            **self._context(request, "Task runs"),
            "runs": runs,
            "total": total,
            "error": error,
            "filters": current,
            "schedule": schedule,
            "task_choices": registered_task_names(),
            "status_choices": [s.value for s in RunStatus],
            "page_number": page_number,
            "pages": pages,
            "previous_url": task_runs_url(**current, p=page_number - 1) if page_number > 1 else None,
            "next_url": task_runs_url(**current, p=page_number + 1) if page_number < pages else None,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/scheduler/taskrun_list.html", context)

    def detail_view(self, request: HttpRequest, task_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            run = task_run_get_sync(task_id)
        except PyMongoError:
            run = None
        if run is None:
            raise Http404("task run not found")
        context = {
            **self._context(request, f"Task run {task_id}"),
            "run": run,
            "args_json": json.dumps(run["args"], indent=2, ensure_ascii=False, default=str),
            "kwargs_json": json.dumps(run["kwargs"], indent=2, ensure_ascii=False, default=str),
            "result_json": json.dumps(run["result"], indent=2, ensure_ascii=False, default=str),
            "schedule_url": (
                reverse("admin:django_celery_beat_periodictask_change", args=[run["schedule"]])
                if run["schedule"] is not None
                else None
            ),
            "list_url": task_runs_url(),
        }
        return TemplateResponse(request, "admin/scheduler/taskrun_detail.html", context)
