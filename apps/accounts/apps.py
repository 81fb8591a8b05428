from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from apps.accounts import checks, receivers  # noqa: F401  (registers checks and signal receivers)
        from apps.accounts.permissions_sync import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self)
