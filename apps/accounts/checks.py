"""System check: without DEBUG, missing or malformed keys stop start-up with a clear message."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from apps.accounts.keys import check_keys


@register("security", deploy=False)
def keys_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEV_KEYS_ALLOWED:
        return []
    return [
        Error(message, hint="See .env.example: LOGIN_RSA_PRIVATE_KEY and JWT_PRIVATE_KEY", id="accounts.E001")
        for message in check_keys()
    ]
