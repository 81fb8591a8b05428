"""Admin permissions derived from the API permission codes: one authorization model for the API and the admin.

Each Django permission the admin checks (a page's view/add/change/delete, and the admin actions that have an
API twin) is listed below with the API operations that do the same thing on the same resource. A staff user
holds it when their active roles grant *every* listed code, so the admin never lets a role do more than the
API lets it: a change page also shows the list, so "change" needs the read codes too. docs/admin.md has the
table for readers; tests/accounts/test_admin_access.py checks that every admin page's permissions are listed
here and that every code exists in the route table.
"""

from collections.abc import Iterable, Mapping
from typing import Final

from apps.core.paths import API_ROOT


def _code(method: str, path: str) -> str:
    return f"{method}:{API_ROOT}{path}"


USERS_READ = (_code("GET", "/users"), _code("GET", "/users/{user_id}"))
# The role pages show the permission catalogue (each code with its summary), like GET /permissions.
ROLES_READ = (_code("GET", "/roles"), _code("GET", "/roles/{role_id}"), _code("GET", "/permissions"))
SCHEDULES_READ = (_code("GET", "/schedules"), _code("GET", "/schedules/{schedule_id}"))
# The periodic-task form picks its task from the registered ones, like GET /tasks/registered.
TASKS_REGISTERED = _code("GET", "/tasks/registered")
TASK_RUNS_READ = (_code("GET", "/task-runs"), _code("GET", "/task-runs/{task_id}"))
FILES_READ = (_code("GET", "/files"), _code("GET", "/files/{file_id}"))
DEPARTMENTS_READ = (
    _code("GET", "/departments"),
    _code("GET", "/departments/tree"),
    _code("GET", "/departments/{department_id}"),
)
POSTS_READ = (_code("GET", "/posts"), _code("GET", "/posts/{post_id}"))
ROLE_TWO_FACTOR_SET = _code("PUT", "/roles/{role_id}/two-factor")
INVITATIONS_READ = (_code("GET", "/invitations"), _code("GET", "/invitations/{invitation_id}"))
INVITATION_REVOKE = _code("DELETE", "/invitations/{invitation_id}")


def _schedule_model(model: str) -> dict[str, tuple[str, ...]]:
    """Interval, crontab, solar and clocked schedules are parts of a schedule in the API (its `schedule`)."""
    return {
        f"django_celery_beat.view_{model}": SCHEDULES_READ,
        f"django_celery_beat.add_{model}": (_code("POST", "/schedules"),),
        f"django_celery_beat.change_{model}": (*SCHEDULES_READ, _code("PATCH", "/schedules/{schedule_id}")),
        # Deleting a schedule part deletes the periodic tasks that use it.
        f"django_celery_beat.delete_{model}": (_code("DELETE", "/schedules/{schedule_id}"),),
    }


# Admin actions with an API twin: permissions the admin checks that are not rows of the Permission table.
ACTION_PERMISSIONS: Final = frozenset({"accounts.force_logout_user", "django_celery_beat.run_periodictask"})

ADMIN_PERMISSIONS: Final[Mapping[str, tuple[str, ...]]] = {
    # Users
    "accounts.view_user": USERS_READ,
    "accounts.add_user": (_code("POST", "/users"),),
    "accounts.change_user": (*USERS_READ, _code("PATCH", "/users/{user_id}")),
    "accounts.delete_user": (_code("DELETE", "/users/{user_id}"),),
    "accounts.force_logout_user": (_code("POST", "/users/{user_id}/logout"),),  # the "Force logout" action
    # Roles
    "accounts.view_role": ROLES_READ,
    "accounts.add_role": (_code("POST", "/roles"), _code("GET", "/permissions")),
    "accounts.change_role": (*ROLES_READ, _code("PATCH", "/roles/{role_id}")),
    "accounts.delete_role": (_code("DELETE", "/roles/{role_id}"),),
    # A role's settings (description, on/off, two-factor requirement) are an inline of the role page; who may
    # change the two-factor requirement there also needs PUT /roles/{id}/two-factor (RoleProfileInline).
    "accounts.view_roleprofile": ROLES_READ,
    "accounts.add_roleprofile": (_code("POST", "/roles"),),
    "accounts.change_roleprofile": (*ROLES_READ, _code("PATCH", "/roles/{role_id}")),
    # Logs (MongoDB)
    "audit.view_operationlogentry": (_code("GET", "/audit/operations"),),
    "audit.view_loginlogentry": (_code("GET", "/audit/logins"),),
    # Schedules (django-celery-beat) and task runs
    "django_celery_beat.view_periodictask": SCHEDULES_READ,
    "django_celery_beat.add_periodictask": (_code("POST", "/schedules"), TASKS_REGISTERED),
    "django_celery_beat.change_periodictask": (
        *SCHEDULES_READ,
        _code("PATCH", "/schedules/{schedule_id}"),
        TASKS_REGISTERED,
    ),
    "django_celery_beat.delete_periodictask": (_code("DELETE", "/schedules/{schedule_id}"),),
    "django_celery_beat.run_periodictask": (_code("POST", "/schedules/{schedule_id}/run"),),  # "Run now"
    **_schedule_model("intervalschedule"),
    **_schedule_model("crontabschedule"),
    **_schedule_model("solarschedule"),
    **_schedule_model("clockedschedule"),
    "scheduler.view_taskrunentry": TASK_RUNS_READ,
    # Files. Seeing and deleting *every* user's files: the API needs storage.manage_all_files for that, the
    # admin page is the operators' view of all files; downloads still need storage.manage_all_files.
    "storage.view_storedfile": FILES_READ,
    "storage.add_storedfile": (_code("POST", "/files/uploads"),),
    "storage.change_storedfile": (*FILES_READ, _code("POST", "/files/{file_id}/complete")),
    "storage.delete_storedfile": (_code("DELETE", "/files/{file_id}"), _code("DELETE", "/files/{file_id}/upload")),
    # Online users (apps/console): the page lists who is online; kicking ends sessions like the force logout.
    "console.view_onlineuser": (_code("GET", "/users/online"),),
    "console.kick_onlineuser": (_code("GET", "/users/online"), _code("POST", "/users/{user_id}/logout")),
    # Organisation (apps/org); a role's data scope is edited on the role page, like PUT /roles/{id}/data-scope.
    "org.view_department": DEPARTMENTS_READ,
    "org.add_department": (_code("POST", "/departments"),),
    "org.change_department": (*DEPARTMENTS_READ, _code("PATCH", "/departments/{department_id}")),
    "org.delete_department": (_code("DELETE", "/departments/{department_id}"),),
    "org.view_post": POSTS_READ,
    "org.add_post": (_code("POST", "/posts"),),
    "org.change_post": (*POSTS_READ, _code("PATCH", "/posts/{post_id}")),
    "org.delete_post": (_code("DELETE", "/posts/{post_id}"),),
    "org.view_rolescope": (_code("GET", "/roles/{role_id}/data-scope"),),
    "org.add_rolescope": (_code("PUT", "/roles/{role_id}/data-scope"),),
    "org.change_rolescope": (_code("GET", "/roles/{role_id}/data-scope"), _code("PUT", "/roles/{role_id}/data-scope")),
    "org.delete_rolescope": (_code("PUT", "/roles/{role_id}/data-scope"),),
    # Invitations (apps/onboarding). Nothing of an invitation is edited: its only change is being revoked (the
    # "Revoke" action, DELETE in the API), and the admin deletes none (the rows stay as the record).
    "onboarding.view_invitation": INVITATIONS_READ,
    "onboarding.add_invitation": (_code("POST", "/invitations"),),
    "onboarding.change_invitation": (*INVITATIONS_READ, INVITATION_REVOKE),
    "onboarding.delete_invitation": (INVITATION_REVOKE,),
    # Mail send records (MongoDB); "Resend" queues a failed mail again.
    "mail.view_mailsendentry": (_code("GET", "/mail/sends"),),
    "mail.resend_mailsendentry": (_code("GET", "/mail/sends"), _code("POST", "/mail/sends/{mail_id}/resend")),
}


def derived_permissions(codes: Iterable[str]) -> frozenset[str]:
    """The admin permissions (`app_label.codename`) that a set of API codes grants."""
    held = set(codes)
    return frozenset(perm for perm, required in ADMIN_PERMISSIONS.items() if held.issuperset(required))


def is_derived(perm: str) -> bool:
    """Whether `app_label.codename` is decided by API codes (so a role editor never grants it directly)."""
    return perm in ADMIN_PERMISSIONS


def mapped_codes() -> frozenset[str]:
    return frozenset(code for required in ADMIN_PERMISSIONS.values() for code in required)
