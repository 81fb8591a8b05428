"""initdb step: the root department, and every user without a department (the first superuser) in it."""

from typing import Any

from django.db import transaction

from apps.accounts.authz import bump_global
from apps.accounts.models import User
from apps.org.models import Department
from apps.org.services import ROOT_CODE, department_create_sync


@transaction.atomic
def seed(*, stdout: Any, style: Any) -> None:
    root = Department.objects.filter(code=ROOT_CODE).first()
    if root is None:
        root_id = department_create_sync(data={"name": "Root", "code": ROOT_CODE, "order": 0, "parent": None})
        root = Department.objects.get(pk=root_id)
        stdout.write(style.SUCCESS("initdb: root department created"))
    moved = User.objects.filter(department__isnull=True).update(department=root)
    if moved:
        bump_global()  # a bulk update sends no post_save: cached scopes would not see the new department
        stdout.write(f"initdb: {moved} user(s) put in the root department")
