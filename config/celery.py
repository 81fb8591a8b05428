"""The Celery app: `celery -A config worker` and `celery -A config beat` (database scheduler).

Every setting comes from Django settings under the CELERY_ namespace (config/settings/scheduler.py); tasks are
found in each installed app's `tasks` module, and `async def` tasks run through apps.scheduler.base.PlatformTask.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config", task_cls="apps.scheduler.base:PlatformTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
