"""The Celery configuration the platform relies on: one time zone, database scheduler, late acks, limits."""

from django.conf import settings

from apps.scheduler.base import PlatformTask
from config.celery import app as celery_app


def test_one_time_zone_for_django_celery_and_beat():
    assert settings.USE_TZ is True
    assert celery_app.conf.timezone == settings.TIME_ZONE
    assert celery_app.conf.enable_utc is True
    assert settings.DJANGO_CELERY_BEAT_TZ_AWARE is True


def test_beat_uses_the_database_scheduler():
    assert celery_app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert celery_app.conf.beat_max_loop_interval == settings.CELERY_BEAT_MAX_LOOP_INTERVAL


def test_tasks_are_acknowledged_late_and_redelivered_when_a_worker_dies():
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
    timeout = celery_app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > celery_app.conf.task_time_limit


def test_time_limits_come_from_settings():
    assert celery_app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert celery_app.conf.task_soft_time_limit == settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert celery_app.conf.task_soft_time_limit < celery_app.conf.task_time_limit


def test_the_project_task_class_is_the_default():
    assert issubclass(celery_app.Task, PlatformTask)
    assert celery_app.conf.worker_hijack_root_logger is False
