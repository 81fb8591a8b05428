"""Reads of the organisation, and the one place every scoped list and detail gets its data scope from."""

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.accounts.authz import authz_state
from apps.accounts.models import User
from apps.core.exceptions import NotFound
from apps.core.pagination import PageIn, page_of, paginate_queryset
from apps.org.models import DataScope, Department, Post, RoleScope
from apps.org.schemas import DepartmentFilter, PostFilter
from apps.org.scope import Scope, compute_scope_sync

# --- data scope -----------------------------------------------------------------------------------------

EVERYTHING = {"all": True, "departments": []}


async def scope_of(user: User) -> Scope:
    """The caller's scope from the versioned authorization cache (a change is seen by the next request)."""
    if user.is_superuser:
        return Scope.from_document(EVERYTHING, str(user.pk))
    state = await authz_state(str(user.pk))
    document = state.scope if state is not None else {"all": False, "departments": []}
    return Scope.from_document(document, str(user.pk))


def scope_of_sync(user: Any) -> Scope:
    """The same for the admin, computed afresh on each request."""
    if user.is_superuser:
        return Scope.from_document(EVERYTHING, str(user.pk))
    return Scope.from_document(compute_scope_sync(user_id=str(user.pk), is_superuser=False), str(user.pk))


def scoped_users(queryset: Any, scope: Scope) -> Any:
    condition = scope.user_q()
    return queryset if condition is None else queryset.filter(condition)


async def scope_user_ids(scope: Scope) -> list[str] | None:
    """Ids (as strings) of the users in scope, for MongoDB records, which carry user ids; None: everyone.

    Records are matched by the user's department now, not at write time: a moved user's records move with them.
    """
    condition = scope.user_q()
    if condition is None:
        return None
    return [str(pk) async for pk in User.objects.filter(condition).values_list("pk", flat=True)]


def scope_user_ids_sync(scope: Scope) -> list[str] | None:
    condition = scope.user_q()
    if condition is None:
        return None
    return [str(pk) for pk in User.objects.filter(condition).values_list("pk", flat=True)]


# --- departments ----------------------------------------------------------------------------------------


def department_out(department: Department) -> dict[str, Any]:
    return {
        "id": department.pk,
        "parent": department.parent_id,
        "name": department.name,
        "code": department.code,
        "order": department.order,
        "leader": department.leader_id,
        "is_active": department.is_active,
        "depth": department.depth,
    }


async def department_list(*, filters: DepartmentFilter, page: PageIn) -> dict[str, Any]:
    departments = Department.objects.order_by("path")
    if filters.search:
        departments = departments.filter(Q(name__icontains=filters.search) | Q(code__icontains=filters.search))
    if filters.parent is not None:
        departments = departments.filter(parent_id=filters.parent)
    if filters.is_active is not None:
        departments = departments.filter(is_active=filters.is_active)
    result = await paginate_queryset(departments, page)
    return page_of([department_out(d) for d in result["items"]], total=result["total"], page=page)


async def department_get(*, department_id: int) -> dict[str, Any]:
    department = await Department.objects.filter(pk=department_id).afirst()
    if department is None:
        raise NotFound(_("No such department"))
    return department_out(department)


def build_tree(departments: list[Department]) -> list[dict[str, Any]]:
    """Nested nodes, siblings by (order, name); one read of the table, so it is one consistent tree."""
    nodes = {d.pk: {**department_out(d), "children": []} for d in departments}
    roots: list[dict[str, Any]] = []
    for department in departments:
        node = nodes[department.pk]
        parent = nodes.get(department.parent_id) if department.parent_id else None
        (parent["children"] if parent else roots).append(node)

    def sort(level: list[dict[str, Any]]) -> None:
        level.sort(key=lambda n: (n["order"], n["name"], n["id"]))
        for child in level:
            sort(child["children"])

    sort(roots)
    return roots


async def department_tree() -> list[dict[str, Any]]:
    return build_tree([d async for d in Department.objects.all()])


# --- posts and role scopes ------------------------------------------------------------------------------


def post_out(post: Post) -> dict[str, Any]:
    return {"id": post.pk, "name": post.name, "code": post.code, "order": post.order}


async def post_list(*, filters: PostFilter, page: PageIn) -> dict[str, Any]:
    posts = Post.objects.order_by("order", "code")
    if filters.search:
        posts = posts.filter(Q(name__icontains=filters.search) | Q(code__icontains=filters.search))
    result = await paginate_queryset(posts, page)
    return page_of([post_out(p) for p in result["items"]], total=result["total"], page=page)


async def post_get(*, post_id: int) -> dict[str, Any]:
    post = await Post.objects.filter(pk=post_id).afirst()
    if post is None:
        raise NotFound(_("No such post"))
    return post_out(post)


async def role_scope_get(*, role_id: int) -> dict[str, Any]:
    from django.contrib.auth.models import Group

    if not await Group.objects.filter(pk=role_id).aexists():
        raise NotFound(_("No such role"))
    row = await RoleScope.objects.filter(group_id=role_id).afirst()
    if row is None:
        return {"role": role_id, "scope": DataScope.ALL.value, "departments": []}
    departments = [pk async for pk in row.departments.order_by("pk").values_list("pk", flat=True)]
    return {"role": role_id, "scope": row.scope, "departments": departments}


# --- the caller's scope, for selectors that are not handed the actor --------------------------------------


def caller_user_ids_sync() -> list[str] | None:
    """User ids in the current caller's scope (None: no filter). For MongoDB records, which carry user ids."""
    from apps.org.context import current_caller

    caller = current_caller()
    if caller is None or caller.is_superuser:
        return None
    return scope_user_ids_sync(scope_of_sync(caller))


def mongo_user_filter(query: dict[str, Any], field: str = "user_id") -> dict[str, Any]:
    """`query` narrowed to records of users in the caller's scope (a record without a user: `all` only)."""
    ids = caller_user_ids_sync()
    if ids is None:
        return query
    return {"$and": [query, {field: {"$in": ids}}]} if query else {field: {"$in": ids}}
