"""initdb's default schedules: rows made once, never from CELERY_BEAT_SCHEDULE, and left alone after."""

import io

import pytest
from django.core.management.color import color_style
from django_celery_beat.models import PeriodicTask

from apps.scheduler.seed import DEMO_PING, DEMO_PING_ASYNC, seed
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def run_seed() -> str:
    out = io.StringIO()
    seed(stdout=out, style=color_style())
    return out.getvalue()


def test_seed_creates_disabled_demo_schedules_once():
    output = run_seed()
    assert DEMO_PING in output and DEMO_PING_ASYNC in output
    ping = PeriodicTask.objects.select_related("interval").get(name=DEMO_PING)
    assert ping.task == "scheduler.ping" and ping.enabled is False
    assert (ping.interval.every, ping.interval.period) == (1, "minutes")
    ping_async = PeriodicTask.objects.select_related("crontab").get(name=DEMO_PING_ASYNC)
    assert ping_async.task == "scheduler.ping_async" and ping_async.enabled is False
    assert ping_async.crontab.minute == "*/5"

    # An operator enables the demo; initdb again neither duplicates nor resets it.
    PeriodicTask.objects.filter(name=DEMO_PING).update(enabled=True)
    assert "already exist" in run_seed()
    assert PeriodicTask.objects.filter(name__in=[DEMO_PING, DEMO_PING_ASYNC]).count() == 2
    assert PeriodicTask.objects.get(name=DEMO_PING).enabled is True


def test_no_schedule_comes_from_settings():
    assert celery_app.conf.beat_schedule == {}
