"""The admin sidebar (unfold's SIDEBAR navigation): one entry per page, shown only to those who may open it.

Settings name `sidebar_navigation` by its dotted path, so it is built per request, after the apps are loaded.
Each entry asks the page's own ModelAdmin whether the user may view it, so the sidebar never shows a page
that would answer 403, and follows whatever decides the admin's permissions.
"""

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.core.paths import API_ROOT, DOCS_PATH

API_DOCS_URL = API_ROOT + DOCS_PATH

# (group title, [(title, Material Symbols icon, model label)]); a model label is "app_label.ModelName".
PAGES: list[tuple[Promise | None, list[tuple[Promise, str, str]]]] = [
    (
        _("Accounts"),
        [
            (_("Users"), "person", "accounts.User"),
            (_("Roles"), "shield_person", "accounts.Role"),
            (_("Permissions"), "key", "accounts.ApiPermission"),
            (_("Online users"), "sensors", "console.OnlineUser"),
            (_("Invitations"), "person_add", "onboarding.Invitation"),
        ],
    ),
    (
        _("Organisation"),
        [
            (_("Departments"), "account_tree", "org.Department"),
            (_("Posts"), "badge", "org.Post"),
            (_("Data scopes"), "visibility", "org.RoleScope"),
        ],
    ),
    (
        _("Audit"),
        [
            (_("Operation logs"), "receipt_long", "audit.OperationLogEntry"),
            (_("Login logs"), "login", "audit.LoginLogEntry"),
        ],
    ),
    (
        _("Scheduling"),
        [
            (_("Periodic tasks"), "schedule", "django_celery_beat.PeriodicTask"),
            (_("Task runs"), "play_circle", "scheduler.TaskRunEntry"),
            (_("Intervals"), "timer", "django_celery_beat.IntervalSchedule"),
            (_("Crontabs"), "event_repeat", "django_celery_beat.CrontabSchedule"),
            (_("Clocked times"), "alarm", "django_celery_beat.ClockedSchedule"),
            (_("Solar events"), "wb_twilight", "django_celery_beat.SolarSchedule"),
        ],
    ),
    (
        _("Storage"),
        [
            (_("Files"), "folder", "storage.StoredFile"),
        ],
    ),
    (
        _("Mail"),
        [
            (_("Mail sends"), "outgoing_mail", "mail.MailSendEntry"),
        ],
    ),
]


def _model_admin(label: str) -> "admin.ModelAdmin[Any] | None":
    try:
        return admin.site.get_model_admin(apps.get_model(label))
    except (LookupError, NotRegistered):  # an app left out of INSTALLED_APPS, or a page not registered
        return None


def can_view(label: str) -> Callable[[HttpRequest], bool]:
    """Whether the user may open the page of the model (its ModelAdmin's own view check)."""

    def allowed(request: HttpRequest) -> bool:
        model_admin = _model_admin(label)
        return model_admin is not None and bool(
            model_admin.has_module_permission(request) and model_admin.has_view_or_change_permission(request)
        )

    return allowed


def changelist_url(label: str) -> str:
    model = apps.get_model(label)
    return reverse(f"{admin.site.name}:{model._meta.app_label}_{model._meta.model_name}_changelist")


def can_use_admin(request: HttpRequest) -> bool:
    return bool(admin.site.has_permission(request))


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """The sidebar's groups; pages that are not registered are left out (a link must always resolve)."""
    groups: list[dict[str, Any]] = [
        {
            "items": [
                {
                    "title": _("Dashboard"),
                    "icon": "dashboard",
                    "link": reverse(f"{admin.site.name}:index"),
                    "permission": can_use_admin,
                }
            ]
        }
    ]
    for title, pages in PAGES:
        items = [
            {"title": page_title, "icon": icon, "link": changelist_url(label), "permission": can_view(label)}
            for page_title, icon, label in pages
            if _model_admin(label) is not None
        ]
        if items:
            groups.append({"title": title, "separator": True, "items": items})
    groups.append(
        {
            "title": _("Developers"),
            "separator": True,
            "items": [
                # Staff may read the docs with their admin session even when they are not public.
                {"title": _("API docs"), "icon": "api", "link": API_DOCS_URL, "permission": can_use_admin},
            ],
        }
    )
    return groups
