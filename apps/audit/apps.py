from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from apps.accounts.signals import login_attempted
        from apps.audit.receivers import on_login_attempted

        login_attempted.connect(on_login_attempted, dispatch_uid="audit.login_attempted")
