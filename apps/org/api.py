"""/departments, /posts and /roles/{role_id}/data-scope."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from apps.core.envelope import also_answers
from apps.core.pagination import Page, PageIn
from apps.org import selectors, services
from apps.org.schemas import (
    DepartmentFilter,
    DepartmentIn,
    DepartmentNode,
    DepartmentOut,
    DepartmentPatch,
    PostFilter,
    PostIn,
    PostOut,
    PostPatch,
    RoleScopeIn,
    RoleScopeOut,
)

router = Router(tags=["organisation"])


@router.get("/departments", response=Page[DepartmentOut], summary="List departments")
async def department_list(request: HttpRequest, filters: Query[DepartmentFilter], page: Query[PageIn]) -> Any:
    return await selectors.department_list(filters=filters, page=page)


@router.get("/departments/tree", response=list[DepartmentNode], summary="The department tree")
async def department_tree(request: HttpRequest) -> Any:
    return await selectors.department_tree()


@router.post(
    "/departments", response={201: DepartmentOut}, summary="Create a department", openapi_extra=also_answers(409)
)
async def department_create(request: HttpRequest, payload: DepartmentIn) -> Any:
    department_id = await services.department_create(data=payload.model_dump())
    return Status(201, await selectors.department_get(department_id=department_id))


@router.get("/departments/{department_id}", response=DepartmentOut, summary="Get a department")
async def department_get(request: HttpRequest, department_id: int) -> Any:
    return await selectors.department_get(department_id=department_id)


@router.patch(
    "/departments/{department_id}",
    response=DepartmentOut,
    summary="Update, move or reorder a department",
    openapi_extra=also_answers(409),
)
async def department_update(request: HttpRequest, department_id: int, payload: DepartmentPatch) -> Any:
    await services.department_update(department_id=department_id, changes=payload.model_dump(exclude_unset=True))
    return await selectors.department_get(department_id=department_id)


@router.delete("/departments/{department_id}", summary="Delete an empty department", openapi_extra=also_answers(409))
async def department_delete(request: HttpRequest, department_id: int) -> None:
    await services.department_delete(department_id=department_id)


@router.get("/posts", response=Page[PostOut], summary="List posts")
async def post_list(request: HttpRequest, filters: Query[PostFilter], page: Query[PageIn]) -> Any:
    return await selectors.post_list(filters=filters, page=page)


@router.post("/posts", response={201: PostOut}, summary="Create a post", openapi_extra=also_answers(409))
async def post_create(request: HttpRequest, payload: PostIn) -> Any:
    post_id = await services.post_write(post_id=None, data=payload.model_dump())
    return Status(201, await selectors.post_get(post_id=post_id))


@router.get("/posts/{post_id}", response=PostOut, summary="Get a post")
async def post_get(request: HttpRequest, post_id: int) -> Any:
    return await selectors.post_get(post_id=post_id)


@router.patch("/posts/{post_id}", response=PostOut, summary="Update a post", openapi_extra=also_answers(409))
async def post_update(request: HttpRequest, post_id: int, payload: PostPatch) -> Any:
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    await services.post_write(post_id=post_id, data=changes)
    return await selectors.post_get(post_id=post_id)


@router.delete("/posts/{post_id}", summary="Delete a post (its holders just stop holding it)")
async def post_delete(request: HttpRequest, post_id: int) -> None:
    await services.post_delete(post_id=post_id)


@router.get("/roles/{role_id}/data-scope", response=RoleScopeOut, summary="Get a role's data scope")
async def role_scope_get(request: HttpRequest, role_id: int) -> Any:
    return await selectors.role_scope_get(role_id=role_id)


@router.put("/roles/{role_id}/data-scope", response=RoleScopeOut, summary="Set a role's data scope")
async def role_scope_set(request: HttpRequest, role_id: int, payload: RoleScopeIn) -> Any:
    await services.role_scope_set(
        actor=request.auth_context.user,  # type: ignore[attr-defined]
        role_id=role_id,
        scope=payload.scope,
        departments=payload.departments,
    )
    return await selectors.role_scope_get(role_id=role_id)
