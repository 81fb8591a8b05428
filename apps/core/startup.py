"""Servers that skip `manage.py` checks (daphne) still refuse to start on a broken production configuration."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def refuse_unsafe_start() -> None:
    errors = [message for message in checks.run_checks(tags=[checks.Tags.security]) if message.is_serious()]
    if errors:
        details = "; ".join(str(error.msg) for error in errors)
        raise ImproperlyConfigured(f"Refusing to start: {details}")
