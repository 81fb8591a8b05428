"""initdb step: the first superuser from ADMIN_* (admin / 123456 only in DEBUG)."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from apps.accounts.models import User


def seed(*, stdout: Any, style: Any) -> None:
    username, password = settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD
    if not username or not password:
        if User.objects.filter(is_superuser=True).exists():
            return
        raise CommandError("Set ADMIN_USERNAME and ADMIN_PASSWORD to create the first superuser.")
    user = User.objects.filter(username=username).first()
    if user is None:
        User.objects.create_superuser(username=username, email=settings.ADMIN_EMAIL, password=password)
        stdout.write(style.SUCCESS(f"initdb: superuser {username!r} created"))
    else:
        stdout.write(f"initdb: superuser {username!r} already exists (password left unchanged)")
