"""initdb step: the bucket, a default (editable) schedule for the stale-upload housekeeping, and every user's
files for the seeded administrator role (accounts seeds it first, in INSTALLED_APPS order)."""

from typing import Any

from django.apps import apps

from apps.core.exceptions import ServiceUnavailable
from apps.storage import objects
from apps.storage.models import MANAGE_ALL_FILES

CLEANUP_TASK = "storage.cleanup_pending_uploads"
CLEANUP_SCHEDULE_NAME = "storage: clean up stale uploads"
CLEANUP_EVERY_HOURS = 1


def seed(*, stdout: Any, style: Any) -> None:
    try:
        created = objects.ensure_bucket(force=True)
    except ServiceUnavailable:
        # Not fatal: the bucket is also created on first use once the S3 server answers.
        stdout.write(style.WARNING(f"initdb: object storage unreachable, bucket {objects.bucket_name()!r} not checked"))
    else:
        state = "created" if created else "already exists"
        stdout.write(f"initdb: bucket {objects.bucket_name()!r} {state}")
    seed_cleanup_schedule(stdout=stdout, style=style)
    grant_all_files_to_administrators(stdout=stdout)


def grant_all_files_to_administrators(*, stdout: Any) -> None:
    """The administrator role can do what a superuser can, so it sees every user's files (added once; an
    operator who takes it away later keeps it away only until the next initdb, like the role's API codes)."""
    from django.contrib.auth.models import Permission

    from apps.accounts.models import Role

    role = Role.objects.filter(name="administrator").first()
    if role is None:
        return
    app_label, codename = MANAGE_ALL_FILES.split(".")
    role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    stdout.write(f"initdb: role 'administrator' may manage every user's files ({MANAGE_ALL_FILES})")


def seed_cleanup_schedule(*, stdout: Any, style: Any) -> None:
    """One row, created once: later edits in the admin or the API are kept (never CELERY_BEAT_SCHEDULE)."""
    if not apps.is_installed("django_celery_beat"):
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=CLEANUP_SCHEDULE_NAME).exists():
        stdout.write(f"initdb: schedule {CLEANUP_SCHEDULE_NAME!r} already exists")
        return
    # Interval rows are not unique per (every, period): reuse any matching one.
    interval = IntervalSchedule.objects.filter(every=CLEANUP_EVERY_HOURS, period=IntervalSchedule.HOURS).first()
    if interval is None:
        interval = IntervalSchedule.objects.create(every=CLEANUP_EVERY_HOURS, period=IntervalSchedule.HOURS)
    _, created = PeriodicTask.objects.get_or_create(
        name=CLEANUP_SCHEDULE_NAME,
        defaults={
            "task": CLEANUP_TASK,
            "interval": interval,
            "enabled": True,
            "description": "Abort and remove uploads left pending longer than FILE_PENDING_TTL.",
        },
    )
    if created:
        stdout.write(style.SUCCESS(f"initdb: schedule {CLEANUP_SCHEDULE_NAME!r} created (every hour)"))
