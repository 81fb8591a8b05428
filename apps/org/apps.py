from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "apps.org"
    label = "org"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from apps.org import receivers  # noqa: F401  (keeps cached authorization state honest)
