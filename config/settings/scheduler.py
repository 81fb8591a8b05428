"""Celery, django-celery-beat and task-run records."""

from .base import TIME_ZONE, USE_TZ
from .env import REDIS_URL, env

CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND: str = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Without a broker (the embedded default) tasks run inline so "run now" still works.
CELERY_TASK_ALWAYS_EAGER: bool = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")

# One time zone for Django, Celery and beat; datetimes are stored aware (UTC).
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
DJANGO_CELERY_BEAT_TZ_AWARE = USE_TZ

# Schedules are rows edited in the admin and the API; never put them in CELERY_BEAT_SCHEDULE (the database
# scheduler rewrites rows from that setting on every beat start).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# How often beat wakes up at most, seconds; also how fast it notices schedule changes.
CELERY_BEAT_MAX_LOOP_INTERVAL: int = env.int("CELERY_BEAT_MAX_LOOP_INTERVAL", default=5)

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES: int = env.int("CELERY_RESULT_EXPIRES", default=86400)
CELERY_TASK_TRACK_STARTED = True

# A task is acknowledged only after it finished, so a worker that dies mid-task leaves it to be delivered
# again: at once when a pool process is lost, after the visibility timeout when the whole worker vanished.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER: int = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds; must exceed the longest task (and countdown) or Redis hands the message to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}

# Seconds; the soft limit raises SoftTimeLimitExceeded inside the task (async tasks are cancelled), the hard
# limit kills the pool process.
CELERY_TASK_SOFT_TIME_LIMIT: int = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT: int = env.int("CELERY_TASK_TIME_LIMIT", default=360)

# Keep Django's logging configuration (JSON lines, secret redaction) in worker and beat.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Task-run records (MongoDB).
TASK_RUN_RESULT_MAX_CHARS: int = env.int("TASK_RUN_RESULT_MAX_CHARS", default=2000)
TASK_RUN_TRACEBACK_MAX_CHARS: int = env.int("TASK_RUN_TRACEBACK_MAX_CHARS", default=10000)
TASK_RUN_RETENTION_DAYS: int = env.int("TASK_RUN_RETENTION_DAYS", default=30)
# Records waiting to be written per process while MongoDB is unreachable; beyond it new ones are dropped.
TASK_RUN_BUFFER_SIZE: int = env.int("TASK_RUN_BUFFER_SIZE", default=10000)
