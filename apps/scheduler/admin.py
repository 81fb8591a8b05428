"""Admin: django-celery-beat's pages in the project's admin style, and a read-only page of task runs.

The periodic-task form has one task picker (the registered tasks, the same list as /tasks/registered, and
"Other…" for a custom name), creates an interval or crontab schedule in the same form (validated like the API's
schedules), checks that args is a JSON array and kwargs a JSON object the task can be called with, and links
each periodic task to its runs. Task runs live in MongoDB: their page is the shared document list
(apps.core.admin.DocumentListAdmin) registered on a tableless model (apps.scheduler.models).
"""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import ClockedScheduleAdmin as BeatClockedScheduleAdmin
from django_celery_beat.admin import CrontabScheduleAdmin as BeatCrontabScheduleAdmin
from django_celery_beat.admin import IntervalScheduleAdmin as BeatIntervalScheduleAdmin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.admin import PeriodicTaskInline as BeatPeriodicTaskInline
from django_celery_beat.admin import SolarScheduleAdmin as BeatSolarScheduleAdmin
from django_celery_beat.models import (
    PERIOD_CHOICES,
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from unfold.admin import ModelAdmin, TabularInline
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from apps.core.admin import TIME_HINT, DocumentListAdmin, ListFilter, Tone, badge, clipped, moment
from apps.core.exceptions import ValidationFailed
from apps.scheduler.documents import RunStatus
from apps.scheduler.models import TaskRunEntry
from apps.scheduler.schemas import MAX_TASK_NAME, CrontabSpec, IntervalSpec, TaskRunFilter
from apps.scheduler.selectors import (
    is_internal_task,
    registered_task_names,
    task_run_export_sync,
    task_run_get_sync,
    task_run_page_sync,
    task_run_query,
)
from apps.scheduler.services import check_arguments

OTHER_TASK = "__other__"
CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
STATUS_TONES: dict[str, Tone] = {
    RunStatus.SUCCESS: "success",
    RunStatus.FAILURE: "danger",
    RunStatus.RETRY: "warning",
    RunStatus.STARTED: "info",
    RunStatus.PENDING: "default",
}


def task_runs_url(**filters: Any) -> str:
    url = reverse("admin:scheduler_taskrunentry_changelist")
    query = {k: v for k, v in filters.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def status_badge(status: str | None) -> str:
    return badge(status or "-", STATUS_TONES.get(status or "", "default"))


# --- django-celery-beat ----------------------------------------------------------------------------------


def _task_picker_choices() -> list[tuple[str, str]]:
    """The registered tasks and "Other…"; a callable, so it is read when the form is used, not at import."""
    names = [(name, name) for name in registered_task_names()]
    return [("", "---------"), *names, (OTHER_TASK, gettext("Other (custom task name)…"))]


def _text(label: Any, initial: str = "", **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, required=False, initial=initial, widget=UnfoldAdminTextInputWidget(), **kwargs)


class PeriodicTaskAdminForm(forms.ModelForm):
    """A periodic task: one task picker, and a new interval or crontab schedule made in place (or an existing one)."""

    task_choice = forms.ChoiceField(label=_("Task"), choices=_task_picker_choices, widget=UnfoldAdminSelectWidget())
    custom_task = _text(
        _("Custom task name"),
        max_length=MAX_TASK_NAME,
        help_text=_("A task no worker of this site registers; it runs only where a worker knows it."),
    )
    schedule_kind = forms.ChoiceField(
        label=_("Schedule"),
        required=False,
        initial="existing",
        choices=[
            ("existing", _("An existing schedule (choose below)")),
            ("interval", _("A new interval")),
            ("crontab", _("A new crontab")),
        ],
        widget=UnfoldAdminSelectWidget(),
    )
    every = forms.IntegerField(
        label=_("Every"), required=False, min_value=1, max_value=2_147_483_647, widget=UnfoldAdminIntegerFieldWidget()
    )
    period = forms.ChoiceField(
        label=_("Period"), required=False, initial="minutes", choices=PERIOD_CHOICES, widget=UnfoldAdminSelectWidget()
    )
    minute = _text(_("Minute"), "*", help_text=_("0-59, e.g. 0,30 or */15"))
    hour = _text(_("Hour"), "*", help_text=_("0-23"))
    day_of_month = _text(_("Day of month"), "*", help_text=_("1-31"))
    month_of_year = _text(_("Month of year"), "*", help_text=_("1-12"))
    day_of_week = _text(_("Day of week"), "*", help_text=_("0-6 (Sunday = 0) or mon-sun"))
    cron_timezone = _text(_("Time zone"), help_text=_("An IANA name, e.g. Asia/Shanghai; empty: the server's"))

    class Meta:
        model = PeriodicTask
        # Every column but `task`, which is set from task_choice / custom_task.
        fields = (
            "name",
            "enabled",
            "description",
            "interval",
            "crontab",
            "solar",
            "clocked",
            "start_time",
            "one_off",
            "args",
            "kwargs",
            "expires",
            "expire_seconds",
            "queue",
            "exchange",
            "routing_key",
            "priority",
            "headers",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cron_timezone"].initial = settings.TIME_ZONE
        name = self.instance.task if self.instance.pk else ""
        if name and name not in registered_task_names():
            self.initial.setdefault("task_choice", OTHER_TASK)
            self.initial.setdefault("custom_task", name)
        elif name:
            self.initial.setdefault("task_choice", name)
        for relation in ("interval", "crontab"):  # made in this form; the popups stay for solar and clocked
            widget = self.fields[relation].widget if relation in self.fields else None
            if widget is not None and hasattr(widget, "can_add_related"):
                widget.can_add_related = False

    def _json_of_kind(self, field: str, kind: type, label: str) -> str:
        value: str = self.cleaned_data[field]
        try:
            parsed = json.loads(value or "null")
        except ValueError as exc:
            raise forms.ValidationError(gettext("Unable to parse JSON: %s") % exc) from None
        if not isinstance(parsed, kind):
            raise forms.ValidationError(gettext("Must be a JSON %s.") % label)
        return value

    def clean_args(self) -> str:
        return self._json_of_kind("args", list, gettext('array, e.g. [] or [1, "a"]'))

    def clean_kwargs(self) -> str:
        return self._json_of_kind("kwargs", dict, gettext('object, e.g. {} or {"key": "value"}'))

    def _task_name(self, data: dict[str, Any]) -> str | None:
        if data.get("task_choice") != OTHER_TASK:
            return data.get("task_choice")
        name = (data.get("custom_task") or "").strip()
        if not name:
            self.add_error("custom_task", gettext("Enter the task name."))
            return None
        if is_internal_task(name):
            self.add_error("custom_task", gettext("This task is internal to the platform and cannot be scheduled."))
            return None
        return name

    def _new_schedule(self, kind: str, data: dict[str, Any]) -> IntervalSchedule | CrontabSchedule | None:
        """The interval or crontab the form describes (an equal existing row is reused), validated like the API."""
        try:
            if kind == "interval":
                interval = IntervalSpec.model_validate(
                    {"type": "interval", "every": data.get("every"), "period": data.get("period")}
                )
                found = IntervalSchedule.objects.filter(every=interval.every, period=interval.period).order_by("id")
                return found.first() or IntervalSchedule(every=interval.every, period=interval.period)
            values = {name: (data.get(name) or "").strip() or "*" for name in CRONTAB_FIELDS}
            spec = CrontabSpec.model_validate(
                {"type": "crontab", **values, "timezone": data.get("cron_timezone") or None}
            )
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "schedule_kind"
                field = {"timezone": "cron_timezone", "type": "schedule_kind"}.get(name, name)
                message = str(error["msg"]).removeprefix("Value error, ")
                self.add_error(field if field in self.fields else None, message)
            return None
        fields = {name: getattr(spec, name) for name in CRONTAB_FIELDS}
        fields["timezone"] = spec.timezone or settings.TIME_ZONE
        return CrontabSchedule.objects.filter(**fields).order_by("id").first() or CrontabSchedule(**fields)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or self.cleaned_data
        task = self._task_name(data)
        if task is not None:
            self.instance.task = task
        kind = data.get("schedule_kind") or "existing"
        if kind in ("interval", "crontab"):
            row = self._new_schedule(kind, data)
            if row is not None:
                for relation in ("interval", "crontab", "solar", "clocked"):
                    data[relation] = None
                data[kind] = row
        if data.get("expire_seconds") is not None and data.get("expires"):
            raise forms.ValidationError(gettext("Only one can be set, in expires and expire_seconds"))
        # The same signature check as the API: a schedule the task cannot run is refused now, not at every run.
        if task and "args" in data and "kwargs" in data:
            try:
                check_arguments(task, json.loads(data["args"]), json.loads(data["kwargs"]), loc=[])
            except ValidationFailed as exc:
                self.add_error(exc.data[0]["loc"][-1], exc.message)
        return data

    def save(self, commit: bool = True) -> PeriodicTask:
        # A schedule made in this form is saved first (inside the admin's transaction), then linked.
        for relation in ("interval", "crontab"):
            row = getattr(self.instance, relation)
            if row is not None and row.pk is None:
                row.save()
                setattr(self.instance, relation, row)
        task: PeriodicTask = super().save(commit)
        return task


for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin, ModelAdmin):
    # PeriodicTask.save()/.delete() (and django-celery-beat's signals, and its bulk actions) bump PeriodicTasks,
    # so a running beat reloads the schedule on its next tick.
    form = PeriodicTaskAdminForm
    list_display = ("name", "task", "enabled", "scheduler", "one_off", "last_run_at", "total_run_count", "runs")

    # django-celery-beat's bulk actions declare no permission, so every viewer would be offered them: enabling,
    # disabling and toggling need "change", running now needs "run" (POST /schedules/{id}/run in the API).
    @admin.action(description=BeatPeriodicTaskAdmin.enable_tasks.short_description, permissions=["change"])
    def enable_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        super().enable_tasks(request, queryset)

    @admin.action(description=BeatPeriodicTaskAdmin.disable_tasks.short_description, permissions=["change"])
    def disable_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        super().disable_tasks(request, queryset)

    @admin.action(description=BeatPeriodicTaskAdmin.toggle_tasks.short_description, permissions=["change"])
    def toggle_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        super().toggle_tasks(request, queryset)

    @admin.action(description=BeatPeriodicTaskAdmin.run_tasks.short_description, permissions=["run"])
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        super().run_tasks(request, queryset)

    def has_run_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_celery_beat.run_periodictask"))

    readonly_fields = ("last_run_at", "crontab_translation", "total_run_count", "runs")
    conditional_fields = {
        "custom_task": f"task_choice == '{OTHER_TASK}'",
        **dict.fromkeys(("interval", "crontab", "solar", "clocked"), "!schedule_kind || schedule_kind == 'existing'"),
        **dict.fromkeys(("every", "period"), "schedule_kind == 'interval'"),
        **dict.fromkeys((*CRONTAB_FIELDS, "cron_timezone"), "schedule_kind == 'crontab'"),
    }
    fieldsets = (
        (None, {"fields": ("name", "task_choice", "custom_task", "enabled", "description", "runs")}),
        (
            _("Schedule"),
            {
                "fields": (
                    "schedule_kind",
                    ("every", "period"),
                    ("minute", "hour"),
                    ("day_of_month", "month_of_year"),
                    ("day_of_week", "cron_timezone"),
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
        (_("Arguments"), {"fields": ("args", "kwargs"), "classes": ("collapse",)}),
        (
            _("Execution options"),
            {
                "fields": ("expires", "expire_seconds", "queue", "exchange", "routing_key", "priority", "headers"),
                "classes": ("collapse",),
            },
        ),
    )

    @admin.display(description=_("Runs"))
    def runs(self, obj: PeriodicTask) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">{}</a>', task_runs_url(schedule=obj.pk), gettext("View runs"))

    @admin.display(description=_("Crontab in words"))
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


def _task_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in registered_task_names()]


@admin.register(TaskRunEntry)
class TaskRunAdmin(DocumentListAdmin):
    """Read-only list (filters, page numbers, CSV export) and detail of the task-run records."""

    filter_schema = TaskRunFilter
    # Like the API's filters, except that a value the API would refuse (42200) is left out, with a message.
    drop_invalid_filters = True
    filters = [
        ListFilter("status", _("Status"), "select", lambda: [(s.value, s.value) for s in RunStatus]),
        ListFilter("task", _("Task"), "select", _task_choices),
        ListFilter("schedule", _("Schedule id")),
        ListFilter("since", _("Queued since (UTC)"), placeholder=TIME_HINT, width="w-48"),
        ListFilter("until", _("Queued until (UTC)"), placeholder=TIME_HINT, width="w-48"),
    ]
    search_label = _("Task id")
    search_placeholder = _("The exact task id")
    headers = [_("Task id"), _("Task"), _("Status"), _("Schedule"), _("Queued (UTC)"), _("ms"), _("Error")]
    # No args, kwargs, result or traceback: they can be large, and they are on each run's page.
    export_columns = [
        ("task_id", _("task id")),
        ("task", _("task")),
        ("status", _("status")),
        ("retries", _("retries")),
        ("schedule", _("schedule id")),
        ("schedule_name", _("schedule")),
        ("worker", _("worker")),
        ("queued_at", _("queued at")),
        ("started_at", _("started at")),
        ("finished_at", _("finished at")),
        ("duration_ms", _("duration ms")),
        ("error", _("error")),
    ]
    export_basename = "task-runs"
    list_template_name = "admin/scheduler/taskrun_list.html"
    filter_form_id = "task-run-filters"
    empty_message = _("No task runs match these filters.")
    unavailable_message = _("MongoDB is unavailable: task runs cannot be shown right now.")

    def filter_values(self, params: QueryDict) -> dict[str, Any]:
        values = super().filter_values(params)
        if "status" in values:
            values["status"] = values["status"].upper()
        return values

    def build_query(self, filters: Any, search: str, params: QueryDict) -> Any:
        query = task_run_query(filters)
        if search:
            query["task_id"] = search
        return query

    def fetch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        return task_run_page_sync(query, offset=offset, limit=limit)

    def export(self, query: Any, limit: int) -> tuple[int, Iterator[dict[str, Any]]]:
        return task_run_export_sync(query, fields=[key for key, _h in self.export_columns], limit=limit)

    def table_row(self, run: dict[str, Any]) -> list[Any]:
        detail = reverse("admin:scheduler_taskrunentry_change", args=[run["task_id"]])
        status = status_badge(run.get("status"))
        if run.get("retries"):
            status = format_html('{} <span class="text-xs">({}: {})</span>', status, gettext("retries"), run["retries"])
        schedule = "-"
        if run.get("schedule"):
            schedule = format_html(
                '<a class="text-primary-600" href="{}">{}</a>',
                task_runs_url(schedule=run["schedule"]),
                clipped(run.get("schedule_name") or run["schedule"], 24),
            )
        return [
            format_html('<a class="text-primary-600" href="{}">{}</a>', detail, clipped(run["task_id"], 13)),
            clipped(run.get("task"), 32),
            status,
            schedule,
            moment(run.get("queued_at")),
            f"{run['duration_ms']:.1f}" if run.get("duration_ms") is not None else "-",
            clipped(run.get("error"), 40),
        ]

    def list_context(self, request: HttpRequest, filters: Any) -> dict[str, Any]:
        schedule_id = getattr(filters, "schedule", None)
        schedule = PeriodicTask.objects.filter(pk=schedule_id).first() if schedule_id else None
        return {"schedule": schedule}

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.require_view(request)
        try:
            run = task_run_get_sync(object_id)
        except PyMongoError:
            run = None
        if run is None:
            raise Http404(gettext("task run not found"))
        context = {
            **self.base_context(request, gettext("Task run %(id)s") % {"id": object_id}),
            "run": run,
            "status_badge": status_badge(run["status"]),
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
