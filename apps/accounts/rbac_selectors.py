"""Reads for permissions, roles and users."""

import hashlib
import json
from typing import Any
from uuid import UUID

from django.contrib.auth.models import Permission
from django.db.models import Prefetch, Q, Subquery
from django.utils.translation import gettext_lazy as _

from apps.accounts.authz import API_PERMISSION_FILTER, rememberable
from apps.accounts.models import ApiOperation, Role, RoleProfile, TableRowCount, User
from apps.accounts.schemas import PermissionFilter, RoleFilter, RoleOut, UserFilter
from apps.core.envelope import render_body
from apps.core.exceptions import NotFound
from apps.core.pagination import Page, PageIn, page_of, paginate_queryset
from apps.core.redis import async_redis, key

ROLE_PAGE_TTL = 3600  # seconds; a page is dropped sooner by any change (its version key is left behind)


def _api_permissions() -> Any:
    return Permission.objects.filter(**API_PERMISSION_FILTER)


async def permission_list(*, filters: PermissionFilter, page: PageIn) -> dict[str, Any]:
    operations = ApiOperation.objects.select_related("permission").order_by("path", "method")
    if filters.tag:
        operations = operations.filter(tag=filters.tag)
    if filters.search:
        operations = operations.filter(
            Q(permission__codename__icontains=filters.search) | Q(summary__icontains=filters.search)
        )
    result = await paginate_queryset(operations, page)
    result["items"] = [
        {
            "id": op.permission_id,
            "code": op.permission.codename,
            "method": op.method,
            "path": op.path,
            "summary": op.summary,
            "tag": op.tag,
        }
        for op in result["items"]
    ]
    return result


def roles_queryset() -> Any:
    return (
        Role.objects.select_related("profile")
        .prefetch_related(Prefetch("permissions", queryset=_api_permissions().order_by("codename")))
        .order_by("name", "id")
    )


def role_out(role: Role) -> dict[str, Any]:
    profile = getattr(role, "profile", None)
    return {
        "id": role.pk,
        "name": role.name,
        "description": profile.description if profile else "",
        "is_active": profile.is_active if profile else True,
        "permissions": [p.codename for p in role.permissions.all()],
    }


async def role_list_body(*, filters: RoleFilter, page: PageIn, authz_version: str) -> str:
    """A page of roles as the API answers it (the envelope, rendered), cached under the global authorization
    version: rendered in this process, as data in Redis.

    Every change that can alter a role's listing (name, description, activation, permissions, deletion, a
    renamed permission code) bumps that version once it commits, and each request reads the version afresh
    (the auth class does, in its one Redis round trip), so a cached page is never stale: the next request
    after a change looks under a new key. Pages are read far more often than roles change, and a page holds
    every role's permission codes: validating and rendering it again for each request cost more than the rest
    of the request.
    """
    query = json.dumps([filters.search, filters.is_active, page.page, page.size])
    remembered = rememberable(authz_version)
    if remembered and (body := _remembered_pages.get(authz_version, query)) is not None:
        return body
    cache_key = key("rbac", "roles", authz_version, hashlib.sha256(query.encode()).hexdigest())
    redis = async_redis()
    cached = await redis.get(cache_key)
    if cached is not None:
        result = json.loads(cached)
    else:
        roles = roles_queryset()
        if filters.search:
            roles = roles.filter(name__icontains=filters.search)
        if filters.is_active is not None:
            roles = roles.filter(profile__is_active=filters.is_active)
        found = await paginate_queryset(roles, page)
        result = page_of([role_out(r) for r in found["items"]], total=found["total"], page=page)
        await redis.set(cache_key, json.dumps(result), ex=ROLE_PAGE_TTL)
    # What Ninja would do with the returned page: validate it against the response schema, then render it.
    body = render_body(Page[RoleOut].model_validate(result).model_dump())
    if remembered:
        _remembered_pages.put(authz_version, query, body)
    return body


class _VersionedPages:
    """The role pages of the newest version seen; pages of an older version are dropped when one arrives."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # One attribute holding both, so a reader never pairs one version with another version's pages.
        self.current: tuple[str, dict[str, str]] = ("", {})

    def get(self, version: str, query: str) -> str | None:
        current_version, pages = self.current
        return pages.get(query) if version == current_version else None

    def put(self, version: str, query: str, page: str) -> None:
        current_version, pages = self.current
        if version != current_version or len(pages) >= self.limit:
            pages = {}
            self.current = (version, pages)
        pages[query] = page


_remembered_pages = _VersionedPages(limit=256)


async def role_get(*, role_id: int) -> dict[str, Any]:
    role = await roles_queryset().filter(pk=role_id).afirst()
    if role is None:
        raise NotFound(_("No such role"))
    return role_out(role)


async def role_two_factor(*, role_id: int) -> dict[str, bool]:
    if not await Role.objects.filter(pk=role_id).aexists():
        raise NotFound(_("No such role"))
    profile = await RoleProfile.objects.filter(group_id=role_id).afirst()
    return {"required": profile is not None and profile.require_two_factor}


def users_queryset() -> Any:
    return User.objects.prefetch_related("groups", "posts").order_by("username")


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "roles": sorted(g.pk for g in user.groups.all()),
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "department": user.department_id,
        "posts": sorted(p.pk for p in user.posts.all()),
    }


async def user_list(*, actor: User, filters: UserFilter, page: PageIn) -> dict[str, Any]:
    """The users in the actor's data scope (apps/org/scope.py), filtered."""
    from apps.org.selectors import scope_of, scoped_users

    users = scoped_users(users_queryset(), await scope_of(actor))
    department = getattr(filters, "department", None)
    if department is not None:
        if getattr(filters, "below", False):
            users = users.filter(department__path__startswith=Subquery(_path_of(department)))
        else:
            users = users.filter(department_id=department)
    if filters.search:
        term = filters.search
        users = users.filter(Q(username__icontains=term) | Q(email__icontains=term) | Q(full_name__icontains=term))
    if filters.is_active is not None:
        users = users.filter(is_active=filters.is_active)
    if filters.role is not None:
        users = users.filter(groups__pk=filters.role)
    result = await paginate_queryset(users, page, total=await kept_total(users))
    return page_of([user_out(u) for u in result["items"]], total=result["total"], page=page)


async def kept_total(users: Any) -> int | None:
    """The user table's trigger-kept row count when the list is the whole table (no filter, no data scope);
    None otherwise, or where no count is kept (SQLite): the caller counts."""
    if users.query.where:
        return None
    return await (
        TableRowCount.objects.filter(table_name=User._meta.db_table).values_list("row_count", flat=True).afirst()
    )


def _path_of(department_id: int) -> Any:
    from apps.org.models import Department

    return Department.objects.filter(pk=department_id).values("path")[:1]


async def user_get(*, actor: User, user_id: UUID) -> dict[str, Any]:
    """A user in the actor's data scope; one outside it is "not found", like an unknown id."""
    from apps.org.selectors import scope_of, scoped_users

    user = await scoped_users(users_queryset(), await scope_of(actor)).filter(pk=user_id).afirst()
    if user is None:
        raise NotFound(_("No such user"))
    return user_out(user)
