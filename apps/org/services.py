"""Writes for departments and posts: the tree's paths are kept here, in one transaction per change."""

from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.core.exceptions import Conflict, NotFound, ValidationFailed
from apps.org.models import PATH_SEPARATOR, Department, Post
from apps.org.policies import ensure_can_delete_department, ensure_can_give_scope, ensure_valid_parent

ROOT_CODE = "root"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, data=[{"loc": ["body", field], "msg": message}])


def _parent(parent_id: int | None) -> Department | None:
    if parent_id is None:
        return None
    parent = Department.objects.select_for_update().filter(pk=parent_id).first()
    if parent is None:
        raise _invalid("parent", gettext("unknown parent department"))
    return parent


def _leader(leader_id: Any) -> User | None:
    if leader_id is None:
        return None
    leader = User.objects.filter(pk=leader_id).first()
    if leader is None:
        raise _invalid("leader", gettext("unknown leader"))
    return leader


@transaction.atomic
def department_create_sync(*, data: dict[str, Any]) -> int:
    parent = _parent(data.get("parent"))
    department = Department(
        parent=parent,
        name=data["name"],
        code=data["code"],
        order=data.get("order", 0),
        is_active=data.get("is_active", True),
        leader=_leader(data.get("leader")),
    )
    try:
        with transaction.atomic():
            department.save()
    except IntegrityError as exc:
        raise Conflict(gettext("Department code already exists")) from exc
    department.path = f"{parent.path if parent else PATH_SEPARATOR}{department.pk}{PATH_SEPARATOR}"
    department.save(update_fields=["path"])
    return department.pk


@transaction.atomic
def department_update_sync(*, department_id: int, changes: dict[str, Any]) -> None:
    department = Department.objects.select_for_update().filter(pk=department_id).first()
    if department is None:
        raise NotFound(gettext("No such department"))
    for field in ("name", "code", "order", "is_active"):
        if field in changes:
            setattr(department, field, changes[field])
    if "leader" in changes:
        department.leader = _leader(changes["leader"])
    try:
        with transaction.atomic():
            department.save()
    except IntegrityError as exc:
        raise Conflict(gettext("Department code already exists")) from exc
    if "parent" in changes and changes["parent"] != department.parent_id:
        _move(department, _parent(changes["parent"]))


def _move(department: Department, parent: Department | None) -> None:
    """Re-hang a subtree: one UPDATE rewrites every path under it, so readers see the old or the new tree."""
    ensure_valid_parent(department_path=department.path, parent_path=parent.path if parent else None)
    old = department.path
    new = f"{parent.path if parent else PATH_SEPARATOR}{department.pk}{PATH_SEPARATOR}"
    Department.objects.filter(pk=department.pk).update(parent=parent)
    Department.objects.filter(path__startswith=old).update(path=Concat(Value(new), Substr(F("path"), len(old) + 1)))
    # Saved rows send post_save (the tree changed: every cached scope is recomputed).
    Department.objects.get(pk=department.pk).save(update_fields=["updated_at"])


@transaction.atomic
def department_delete_sync(*, department_id: int) -> None:
    department = Department.objects.select_for_update().filter(pk=department_id).first()
    if department is None:
        raise NotFound(gettext("No such department"))
    ensure_can_delete_department(
        has_children=Department.objects.filter(parent=department).exists(),
        has_users=User.objects.filter(department=department).exists(),
    )
    department.delete()


@transaction.atomic
def post_write_sync(*, post_id: int | None, data: dict[str, Any]) -> int:
    if post_id is None:
        post = Post()
    else:
        found = Post.objects.select_for_update().filter(pk=post_id).first()
        if found is None:
            raise NotFound(gettext("No such post"))
        post = found
    for field in ("name", "code", "order"):
        if field in data:
            setattr(post, field, data[field])
    try:
        with transaction.atomic():
            post.save()
    except IntegrityError as exc:
        raise Conflict(gettext("Post code already exists")) from exc
    return post.pk


@transaction.atomic
def post_delete_sync(*, post_id: int) -> None:
    if not Post.objects.filter(pk=post_id).exists():
        raise NotFound(gettext("No such post"))
    Post.objects.filter(pk=post_id).delete()


department_create = sync_to_async(department_create_sync)
department_update = sync_to_async(department_update_sync)
department_delete = sync_to_async(department_delete_sync)
post_write = sync_to_async(post_write_sync)
post_delete = sync_to_async(post_delete_sync)


def ensure_can_give_scope_sync(*, actor: Any, scope: str, departments: list[int]) -> None:
    """The caller's scope read afresh from the database (never a cached one), then the policy."""
    from apps.org.models import DataScope
    from apps.org.scope import compute_scope_sync

    if actor.is_superuser:
        return
    own = compute_scope_sync(user_id=str(actor.pk), is_superuser=False)
    subtree: frozenset[int] = frozenset()
    if own["own"] is not None:
        home = Department.objects.filter(pk=own["own"]).values_list("path", flat=True).first() or ""
        subtree = frozenset(Department.objects.filter(path__startswith=home).values_list("pk", flat=True))
    ensure_can_give_scope(
        sees_all=own["all"],
        visible_departments=frozenset(own["departments"]),
        own_subtree=subtree,
        scope=scope,
        departments=frozenset(departments) if scope == DataScope.CUSTOM else frozenset(),
    )


@transaction.atomic
def role_scope_set_sync(*, actor: Any, role_id: int, scope: str, departments: list[int]) -> None:
    from django.contrib.auth.models import Group

    from apps.org.models import DataScope, RoleScope

    if not Group.objects.filter(pk=role_id).exists():
        raise NotFound(gettext("No such role"))
    ensure_can_give_scope_sync(actor=actor, scope=scope, departments=departments)
    wanted = set(departments) if scope == DataScope.CUSTOM else set()
    known = set(Department.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if unknown := sorted(wanted - known):
        raise ValidationFailed(
            gettext("Unknown departments"),
            data=[{"loc": ["body", "departments"], "msg": f"unknown department id {pk}"} for pk in unknown],
        )
    row, _created = RoleScope.objects.update_or_create(group_id=role_id, defaults={"scope": scope})
    row.departments.set(sorted(known))


role_scope_set = sync_to_async(role_scope_set_sync)
