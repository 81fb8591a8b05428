"""Existing users join the root department (created here when missing), so every user has one."""

from typing import Any

from django.db import migrations

ROOT_CODE = "root"


def forwards(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("accounts", "User")
    Department = apps.get_model("org", "Department")
    if not User.objects.filter(department__isnull=True).exists():
        return
    root = Department.objects.filter(code=ROOT_CODE).first()
    if root is None:
        root = Department.objects.create(name="Root", code=ROOT_CODE, order=0)
        root.path = f"/{root.pk}/"
        root.save(update_fields=["path"])
    User.objects.filter(department__isnull=True).update(department=root)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_department"),
        ("org", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
