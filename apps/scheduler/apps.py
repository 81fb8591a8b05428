from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from apps.scheduler import signals  # noqa: F401  (connects the task-run record handlers)
