from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from apps.core import mongo

        if settings.API_TEST_ROUTES:
            from apps.core.testing import count_thread_starts

            count_thread_starts()
        mongo.register_fork_handler()
        mongo.connect()
