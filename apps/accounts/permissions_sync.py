"""Keep API permission rows equal to the route table: create, rename (grants kept) and remove."""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.models import ApiOperation, ApiPermission


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _operations() -> list[routes.OperationInfo]:
    import config.api  # noqa: F401  (building the API indexes its operations)

    return [op for op in routes.catalogue() if op.access is Access.PERMISSION]


@transaction.atomic
def sync_permissions() -> SyncReport:
    report = SyncReport()
    content_type = ContentType.objects.get_for_model(ApiPermission, for_concrete_model=False)
    existing = {p.codename: p for p in Permission.objects.filter(content_type=content_type)}
    by_operation = {o.operation_id: o for o in ApiOperation.objects.select_related("permission")}
    wanted = _operations()
    keep: set[int] = set()
    for op in wanted:
        name = f"{op.code} — {op.summary}"[:255]
        record = by_operation.get(op.operation_id)
        permission = existing.get(op.code)
        if permission is None and record is not None and record.permission.content_type_id == content_type.id:
            permission = record.permission  # the route moved: rename the code, keep the grants
            report.renamed.append((permission.codename, op.code))
            existing.pop(permission.codename, None)
            permission.codename, permission.name = op.code, name
            permission.save(update_fields=["codename", "name"])
        elif permission is None:
            permission = Permission.objects.create(content_type=content_type, codename=op.code, name=name)
            report.created.append(op.code)
        elif permission.name != name:
            report.updated.append(op.code)
            permission.name = name
            permission.save(update_fields=["name"])
        keep.add(permission.pk)
        ApiOperation.objects.filter(operation_id=op.operation_id).exclude(permission=permission).delete()
        ApiOperation.objects.update_or_create(
            permission=permission,
            defaults={
                "operation_id": op.operation_id,
                "method": op.method,
                "path": op.path,
                "summary": op.summary[:255],
                "tag": op.tag[:100],
            },
        )
    for permission in Permission.objects.filter(content_type=content_type).exclude(pk__in=keep):
        report.removed.append(permission.codename)
        permission.delete()
    return report


def sync_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if using != "default":
        return
    sync_permissions()
