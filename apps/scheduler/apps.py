from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = _("Scheduling")

    def ready(self) -> None:
        from apps.scheduler import signals  # noqa: F401  (connects the task-run record handlers)
