"""Writes for roles and users, with the guard rails against privilege escalation and lock-out."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from apps.accounts.auth import AuthContext
from apps.accounts.authz import API_PERMISSION_FILTER
from apps.accounts.login_crypto import decrypt_with_challenge
from apps.accounts.models import Role, RoleProfile, User
from apps.accounts.policies import ensure_department_in_scope, ensure_user_in_scope
from apps.accounts.rbac_selectors import role_get, user_get
from apps.accounts.schemas import RoleIn, RolePatch, UserIn, UserPatch
from apps.accounts.sessions import sessions_end_all
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed

# --- guard rails (shared by the API and the admin) ------------------------------------------------------


class Grantor(Protocol):
    """Who acts: the API's AuthContext, or an admin Actor."""

    @property
    def user(self) -> User: ...

    @property
    def codes(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Actor:
    """An admin user acting: the user and the API codes of their active roles."""

    user: User
    codes: frozenset[str]


def ensure_can_grant(actor: Grantor, codes: Iterable[str]) -> None:
    """Nobody grants an API permission they do not hold (superusers hold all)."""
    if actor.user.is_superuser:
        return
    missing = sorted(set(codes) - actor.codes)
    if missing:
        raise PermissionDenied(
            gettext("You cannot grant permissions you do not hold: %(codes)s") % {"codes": ", ".join(missing[:5])}
        )


def ensure_can_grant_other(actor: Grantor, perms: Iterable[str]) -> None:
    """The same for Django permissions (`app_label.codename`, e.g. storage.manage_all_files)."""
    if actor.user.is_superuser:
        return
    missing = sorted(perm for perm in set(perms) if not actor.user.has_perm(perm))
    if missing:
        raise PermissionDenied(
            gettext("You cannot grant permissions you do not hold: %(codes)s") % {"codes": ", ".join(missing[:5])}
        )


def permission_split(permissions: Iterable[Permission]) -> tuple[set[str], set[str]]:
    """(API codes, other permissions as app_label.codename) of permissions with their content types loaded."""
    codes: set[str] = set()
    other: set[str] = set()
    for permission in permissions:
        if permission.content_type.model == API_PERMISSION_FILTER["content_type__model"]:
            codes.add(permission.codename)
        else:
            other.add(f"{permission.content_type.app_label}.{permission.codename}")
    return codes, other


def ensure_can_assign_roles(actor: Grantor, roles: Iterable[Group]) -> None:
    """Assigning a role grants its permissions: the actor must hold every one of them."""
    for role in roles:
        codes, other = permission_split(role.permissions.select_related("content_type"))
        ensure_can_grant(actor, codes)
        ensure_can_grant_other(actor, other)


def _other_active_superusers(user: User) -> bool:
    return User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists()


def ensure_can_create_user(actor: Grantor, *, is_superuser: bool, is_staff: bool = False) -> None:
    if is_superuser and not actor.user.is_superuser:
        raise PermissionDenied(gettext("Only superusers can create superusers"))
    if is_staff and not actor.user.is_superuser:
        raise PermissionDenied(gettext("Only superusers can give admin access"))


def ensure_can_change_user(actor: Grantor, user: User, changes: Mapping[str, Any]) -> None:
    """The rules for changing `user` (as stored) with `changes` (field -> new value)."""
    if user.is_superuser and not actor.user.is_superuser:
        raise PermissionDenied(gettext("Only superusers can change superusers"))
    if "is_superuser" in changes and changes["is_superuser"] != user.is_superuser:
        if not actor.user.is_superuser:
            raise PermissionDenied(gettext("Only superusers can grant or remove the superuser flag"))
        if not changes["is_superuser"] and user.is_active and not _other_active_superusers(user):
            raise Conflict(gettext("The last active superuser cannot lose the flag"))
    if "is_staff" in changes and changes["is_staff"] != user.is_staff and not actor.user.is_superuser:
        raise PermissionDenied(gettext("Only superusers can give or remove admin access"))
    if changes.get("is_active") is False:
        if user.pk == actor.user.pk:
            raise Conflict(gettext("You cannot deactivate yourself"))
        if user.is_superuser and user.is_active and not _other_active_superusers(user):
            raise Conflict(gettext("The last active superuser cannot be deactivated"))


def ensure_can_delete_user(actor: Grantor, user: User) -> None:
    if user.pk == actor.user.pk:
        raise Conflict(gettext("You cannot delete yourself"))
    if user.is_superuser and not actor.user.is_superuser:
        raise PermissionDenied(gettext("Only superusers can delete superusers"))
    if user.is_superuser and user.is_active and not _other_active_superusers(user):
        raise Conflict(gettext("The last active superuser cannot be deleted"))


def role_permissions_replace(role: Group, *, scope: Iterable[int], wanted: Iterable[int]) -> None:
    """Make the role's permissions among `scope` (ids) exactly `wanted`; those outside `scope` are kept.

    The API edits API codes only and the admin the permissions its form offers: neither drops the others.
    """
    scope_ids, wanted_ids = set(scope), set(wanted)
    current = set(role.permissions.values_list("pk", flat=True))
    if removed := (current & scope_ids) - wanted_ids:
        role.permissions.remove(*removed)
    if added := wanted_ids - current:
        role.permissions.add(*added)


def _permissions_for(codes: list[str]) -> list[Permission]:
    permissions = list(Permission.objects.filter(**API_PERMISSION_FILTER, codename__in=set(codes)))
    unknown = sorted(set(codes) - {p.codename for p in permissions})
    if unknown:
        raise ValidationFailed(
            "Unknown permission codes",
            data=[{"loc": ["body", "permissions", code], "msg": "unknown permission code"} for code in unknown],
        )
    return permissions


def _roles_for(actor: Grantor, role_ids: list[int]) -> list[Group]:
    roles = list(Group.objects.filter(pk__in=set(role_ids)))
    unknown = sorted(set(role_ids) - {r.pk for r in roles})
    if unknown:
        raise ValidationFailed(
            "Unknown roles", data=[{"loc": ["body", "roles"], "msg": f"unknown role id {rid}"} for rid in unknown]
        )
    ensure_can_assign_roles(actor, roles)
    return roles


# --- roles ----------------------------------------------------------------------------------------------


@transaction.atomic
def _role_write(actor: Grantor, role: Group | None, data: dict[str, Any]) -> int:
    if "permissions" in data:
        permissions = _permissions_for(data["permissions"])
        previous = (
            set(role.permissions.filter(**API_PERMISSION_FILTER).values_list("codename", flat=True)) if role else set()
        )
        ensure_can_grant(actor, set(data["permissions"]) - previous)
    if role is None:
        role = Role(name=data["name"])
    elif "name" in data:
        role.name = data["name"]
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as exc:
        raise Conflict("Role name already exists") from exc
    profile, _created = RoleProfile.objects.get_or_create(group=role)
    changed = [field for field in ("description", "is_active") if field in data]
    for field in changed:
        setattr(profile, field, data[field])
    if changed:
        profile.save()
    if "permissions" in data:  # the API edits API codes only: other permissions (storage.*, ...) stay
        api_ids = Permission.objects.filter(**API_PERMISSION_FILTER).values_list("pk", flat=True)
        role_permissions_replace(role, scope=api_ids, wanted=[p.pk for p in permissions])
    return role.pk


async def role_create(*, actor: AuthContext, data: RoleIn) -> dict[str, Any]:
    role_id = await sync_to_async(_role_write)(actor, None, data.model_dump())
    return await role_get(role_id=role_id)


async def role_update(*, actor: AuthContext, role_id: int, data: RoleIn | RolePatch) -> dict[str, Any]:
    role = await Role.objects.filter(pk=role_id).afirst()
    if role is None:
        raise NotFound("No such role")
    changes = data.model_dump(exclude_unset=isinstance(data, RolePatch))
    changes = {k: v for k, v in changes.items() if v is not None}
    await sync_to_async(_role_write)(actor, role, changes)
    return await role_get(role_id=role_id)


@transaction.atomic
def _role_delete(actor: Grantor, role_id: int) -> None:
    role = Role.objects.filter(pk=role_id).prefetch_related("permissions").first()
    if role is None:
        raise NotFound("No such role")
    role.delete()


async def role_delete(*, actor: AuthContext, role_id: int) -> None:
    await sync_to_async(_role_delete)(actor, role_id)


async def role_two_factor_set(*, role_id: int, required: bool) -> dict[str, bool]:
    """Holders without a second factor set one up at their next sign-in (40111); signed-in sessions go on."""
    if not await Role.objects.filter(pk=role_id).aexists():
        raise NotFound("No such role")
    await RoleProfile.objects.aupdate_or_create(group_id=role_id, defaults={"require_two_factor": required})
    return {"required": required}


# --- users ----------------------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "Password is not acceptable",
            data=[{"loc": ["body", "password"], "msg": message} for message in exc.messages],
        ) from exc
    user.set_password(password)


@transaction.atomic
def _user_create(actor: Grantor, data: dict[str, Any], password: str) -> UUID:
    ensure_can_create_user(actor, is_superuser=data["is_superuser"])
    roles = _roles_for(actor, data["roles"])
    department_id = _department_for(actor, data.get("department"))
    ensure_department_in_scope(_scope(actor), department_id=department_id)
    user = User(
        department_id=department_id,
        username=data["username"],
        email=data["email"],
        full_name=data["full_name"],
        is_active=data["is_active"],
        is_superuser=data["is_superuser"],
        is_staff=data["is_superuser"],
    )
    _set_password(user, password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict("Username already exists") from exc
    user.groups.set(roles)
    if data.get("posts"):
        user.posts.set(_posts_for(data["posts"]))
    return user.pk


def _scope(actor: Grantor) -> Any:
    from apps.org.selectors import scope_of_sync

    return scope_of_sync(actor.user)  # read afresh: a write never trusts a cached scope


def _department_for(actor: Grantor, department_id: int | None) -> int | None:
    """The department a created or moved user lands in: given, else the actor's own (else the root)."""
    from apps.org.models import Department

    if department_id is None:
        own = User.objects.filter(pk=actor.user.pk).values_list("department_id", flat=True).first()
        if own is None:
            own = (
                Department.objects.filter(parent__isnull=True)
                .order_by("order", "pk")
                .values_list("pk", flat=True)
                .first()
            )
        return own
    if not Department.objects.filter(pk=department_id).exists():
        raise ValidationFailed(
            "Unknown department",
            data=[{"loc": ["body", "department"], "msg": f"unknown department id {department_id}"}],
        )
    return department_id


def _posts_for(post_ids: list[int]) -> list[int]:
    from apps.org.models import Post

    known = set(Post.objects.filter(pk__in=set(post_ids)).values_list("pk", flat=True))
    if unknown := sorted(set(post_ids) - known):
        raise ValidationFailed(
            "Unknown posts", data=[{"loc": ["body", "posts"], "msg": f"unknown post id {pk}"} for pk in unknown]
        )
    return sorted(known)


async def user_create(*, actor: AuthContext, data: UserIn) -> dict[str, Any]:
    (password,) = await decrypt_with_challenge(data.password)
    user_id = await sync_to_async(_user_create)(actor, data.model_dump(exclude={"password"}), password)
    return await user_get(actor=actor.user, user_id=user_id)


@transaction.atomic
def _user_update(actor: Grantor, user_id: UUID, changes: dict[str, Any], password: str | None) -> None:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user")
    scope = _scope(actor)
    ensure_user_in_scope(scope, user_id=str(user.pk), department_id=user.department_id)
    ensure_can_change_user(actor, user, changes)
    if "department" in changes and changes["department"] != user.department_id:
        department_id = _department_for(actor, changes["department"])
        ensure_department_in_scope(scope, department_id=department_id)
        user.department_id = department_id
    for field in ("email", "full_name", "is_active", "is_superuser"):
        if field in changes:
            setattr(user, field, changes[field])
    if "is_superuser" in changes:
        user.is_staff = user.is_staff or bool(changes["is_superuser"])
    if password is not None:
        _set_password(user, password)
    user.save()
    if "roles" in changes:
        current = set(user.groups.values_list("pk", flat=True))
        _roles_for(actor, [rid for rid in changes["roles"] if rid not in current])
        user.groups.set(changes["roles"])
    if "posts" in changes:
        user.posts.set(_posts_for(changes["posts"]))


async def user_update(*, actor: AuthContext, user_id: UUID, data: UserPatch) -> dict[str, Any]:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k == "roles"}
    password = None
    if changes.pop("password", None) is not None:
        assert data.password is not None
        (password,) = await decrypt_with_challenge(data.password)
    await sync_to_async(_user_update)(actor, user_id, changes, password)
    if password is not None:
        await sessions_end_all(user_id=str(user_id), reason="password_change")
    return await user_get(actor=actor.user, user_id=user_id)


@transaction.atomic
def _user_delete(actor: Grantor, user_id: UUID) -> None:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user")
    ensure_user_in_scope(_scope(actor), user_id=str(user.pk), department_id=user.department_id)
    ensure_can_delete_user(actor, user)
    user.delete()


async def user_delete(*, actor: AuthContext, user_id: UUID) -> None:
    await sync_to_async(_user_delete)(actor, user_id)


async def user_force_logout(*, actor: AuthContext, user_id: UUID) -> None:
    from apps.org.selectors import scope_of

    department = await User.objects.filter(pk=user_id).values_list("department_id", flat=True).afirst()
    if department is None and not await User.objects.filter(pk=user_id).aexists():
        raise NotFound("No such user")
    ensure_user_in_scope(await scope_of(actor.user), user_id=str(user_id), department_id=department)
    await sessions_end_all(user_id=str(user_id), reason="force_logout")
