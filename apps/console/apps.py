from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console: the admin's dashboard and cross-app admin pages (it may import every app)."""

    name = "apps.console"
    label = "console"
    verbose_name = "Console"
