"""Admin anchors for the MongoDB logs: tableless models that only give the admin an app entry and permissions.

The logs themselves are MongoEngine documents (apps.audit.documents). These unmanaged models have no table;
they exist so the admin index and sidebar list "Operation logs" and "Login logs", and so roles can be
granted `audit.view_operationlogentry` / `audit.view_loginlogentry` with the stock permission widgets.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OperationLogEntry(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = _("operation log")
        verbose_name_plural = _("operation logs")

    def __str__(self) -> str:
        return "operation log"


class LoginLogEntry(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = _("login log")
        verbose_name_plural = _("login logs")

    def __str__(self) -> str:
        return "login log"
