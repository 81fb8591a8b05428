"""Admin anchor for task runs: a tableless model that gives the admin an entry and a view permission.

The runs themselves are MongoEngine documents (apps.scheduler.documents); schedules are django-celery-beat's
models. Roles can be granted `scheduler.view_taskrunentry` with the stock permission widgets.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskRunEntry(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = _("task run")
        verbose_name_plural = _("task runs")

    def __str__(self) -> str:
        return f"task run {self.pk}"
