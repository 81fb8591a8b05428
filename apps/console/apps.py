from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The operator console: the admin's dashboard and cross-app admin pages (it may import every app)."""

    name = "apps.console"
    label = "console"
    verbose_name = _("Console")
