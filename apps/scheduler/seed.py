"""initdb step: default schedules, created once as rows (never through CELERY_BEAT_SCHEDULE) and left alone after."""

import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

DEMO_PING = "demo: ping every minute"
DEMO_PING_ASYNC = "demo: async ping every 5 minutes"


@transaction.atomic
def seed(*, stdout: Any, style: Any) -> None:
    created = []
    if not PeriodicTask.objects.filter(name=DEMO_PING).exists():
        every_minute = IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.MINUTES).first()
        PeriodicTask.objects.create(
            name=DEMO_PING,
            task="scheduler.ping",
            interval=every_minute or IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES),
            enabled=False,
            args=json.dumps([]),
            kwargs=json.dumps({"message": "pong"}),
            description="Harmless demo (sync task); enable it to see beat, the worker and task runs at work.",
        )
        created.append(DEMO_PING)
    if not PeriodicTask.objects.filter(name=DEMO_PING_ASYNC).exists():
        cron = {
            "minute": "*/5",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": settings.TIME_ZONE,
        }
        every_5_minutes = CrontabSchedule.objects.filter(**cron).order_by("id").first()
        PeriodicTask.objects.create(
            name=DEMO_PING_ASYNC,
            task="scheduler.ping_async",
            crontab=every_5_minutes or CrontabSchedule.objects.create(**cron),
            enabled=False,
            description="Harmless demo (async task) on a crontab schedule; disabled until you enable it.",
        )
        created.append(DEMO_PING_ASYNC)
    for name in created:
        stdout.write(style.SUCCESS(f"initdb: schedule {name!r} created (disabled)"))
    if not created:
        stdout.write("initdb: default schedules already exist (left unchanged)")
