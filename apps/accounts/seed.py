"""initdb step: the first superuser from ADMIN_* (admin / 123456 only in DEBUG), then the default roles."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from apps.accounts.authz import API_PERMISSION_FILTER
from apps.accounts.models import Role, RoleProfile, User
from apps.accounts.permissions_sync import sync_permissions

DEFAULT_ROLES = {
    "administrator": ("Every API permission.", lambda code: True),
    "read-only": ("Every read (GET) operation.", lambda code: code.startswith("GET:")),
}


def _seed_superuser(stdout: Any, style: Any) -> None:
    username, password = settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD
    if not username or not password:
        if User.objects.filter(is_superuser=True).exists():
            return
        raise CommandError("Set ADMIN_USERNAME and ADMIN_PASSWORD to create the first superuser.")
    if User.objects.filter(username=username).exists():
        stdout.write(f"initdb: superuser {username!r} already exists (password left unchanged)")
        return
    if password != settings.ADMIN_PASSWORD_POLICY_EXEMPT:
        try:
            validate_password(password, User(username=username, email=settings.ADMIN_EMAIL))
        except ValidationError as exc:
            raise CommandError(f"ADMIN_PASSWORD does not meet the password policy: {' '.join(exc.messages)}") from exc
    User.objects.create_superuser(username=username, email=settings.ADMIN_EMAIL, password=password)
    stdout.write(style.SUCCESS(f"initdb: superuser {username!r} created"))


@transaction.atomic
def _seed_roles(stdout: Any) -> None:
    codes = list(Permission.objects.filter(**API_PERMISSION_FILTER))
    for name, (description, wanted) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(name=name)
        RoleProfile.objects.get_or_create(group=role, defaults={"description": description})
        # Adds permissions of routes that appeared since; never removes what an admin granted.
        role.permissions.add(*[p for p in codes if wanted(p.codename)])
        stdout.write(f"initdb: role {name!r} {'created' if created else 'updated'}")


def seed(*, stdout: Any, style: Any) -> None:
    report = sync_permissions()
    stdout.write(f"initdb: permissions synced ({len(report.created)} created, {len(report.removed)} removed)")
    _seed_superuser(stdout, style)
    _seed_roles(stdout)
