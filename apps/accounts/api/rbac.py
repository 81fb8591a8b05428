"""/permissions, /roles and /users: the RBAC catalogue and its management."""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from apps.accounts import rbac_selectors as selectors
from apps.accounts.auth import AuthContext
from apps.accounts.schemas import (
    PermissionFilter,
    PermissionOut,
    RoleFilter,
    RoleIn,
    RoleOut,
    RolePatch,
    RoleTwoFactorIn,
    RoleTwoFactorOut,
)
from apps.accounts.services import rbac as services
from apps.core.envelope import also_answers, prerendered
from apps.core.pagination import Page, PageIn
from apps.org.schemas import OrgUserFilter as UserFilter
from apps.org.schemas import OrgUserIn as UserIn
from apps.org.schemas import OrgUserOut as UserOut
from apps.org.schemas import OrgUserPatch as UserPatch

router = Router(tags=["rbac"])


def _actor(request: HttpRequest) -> AuthContext:
    return request.auth_context  # type: ignore[attr-defined]


@router.get("/permissions", response=Page[PermissionOut], summary="List API permissions")
async def permission_list(request: HttpRequest, filters: Query[PermissionFilter], page: Query[PageIn]) -> Any:
    return await selectors.permission_list(filters=filters, page=page)


@router.get("/roles", response=Page[RoleOut], summary="List roles")
async def role_list(request: HttpRequest, filters: Query[RoleFilter], page: Query[PageIn]) -> Any:
    body = await selectors.role_list_body(filters=filters, page=page, authz_version=_actor(request).authz_version)
    return prerendered(body)  # validated against Page[RoleOut] when it was rendered


@router.post("/roles", response={201: RoleOut}, summary="Create a role", openapi_extra=also_answers(409))
async def role_create(request: HttpRequest, payload: RoleIn) -> Any:
    return Status(201, await services.role_create(actor=_actor(request), data=payload))


@router.get("/roles/{role_id}", response=RoleOut, summary="Get a role")
async def role_get(request: HttpRequest, role_id: int) -> Any:
    return await selectors.role_get(role_id=role_id)


@router.put("/roles/{role_id}", response=RoleOut, summary="Replace a role", openapi_extra=also_answers(409))
async def role_replace(request: HttpRequest, role_id: int, payload: RoleIn) -> Any:
    return await services.role_update(actor=_actor(request), role_id=role_id, data=payload)


@router.patch("/roles/{role_id}", response=RoleOut, summary="Update a role", openapi_extra=also_answers(409))
async def role_update(request: HttpRequest, role_id: int, payload: RolePatch) -> Any:
    return await services.role_update(actor=_actor(request), role_id=role_id, data=payload)


@router.delete("/roles/{role_id}", summary="Delete a role")
async def role_delete(request: HttpRequest, role_id: int) -> None:
    await services.role_delete(actor=_actor(request), role_id=role_id)


@router.get("/roles/{role_id}/two-factor", response=RoleTwoFactorOut, summary="Whether a role requires 2FA")
async def role_two_factor_get(request: HttpRequest, role_id: int) -> Any:
    return await selectors.role_two_factor(role_id=role_id)


@router.put("/roles/{role_id}/two-factor", response=RoleTwoFactorOut, summary="Require 2FA of a role's holders")
async def role_two_factor_set(request: HttpRequest, role_id: int, payload: RoleTwoFactorIn) -> Any:
    return await services.role_two_factor_set(role_id=role_id, required=payload.required)


@router.get("/users", response=Page[UserOut], summary="List users")
async def user_list(request: HttpRequest, filters: Query[UserFilter], page: Query[PageIn]) -> Any:
    return await selectors.user_list(actor=_actor(request).user, filters=filters, page=page)


@router.post("/users", response={201: UserOut}, summary="Create a user", openapi_extra=also_answers(409))
async def user_create(request: HttpRequest, payload: UserIn) -> Any:
    return Status(201, await services.user_create(actor=_actor(request), data=payload))


@router.get("/users/{user_id}", response=UserOut, summary="Get a user")
async def user_get(request: HttpRequest, user_id: UUID) -> Any:
    return await selectors.user_get(actor=_actor(request).user, user_id=user_id)


@router.patch("/users/{user_id}", response=UserOut, summary="Update a user", openapi_extra=also_answers(409))
async def user_update(request: HttpRequest, user_id: UUID, payload: UserPatch) -> Any:
    return await services.user_update(actor=_actor(request), user_id=user_id, data=payload)


@router.delete("/users/{user_id}", summary="Delete a user", openapi_extra=also_answers(409))
async def user_delete(request: HttpRequest, user_id: UUID) -> None:
    await services.user_delete(actor=_actor(request), user_id=user_id)


@router.post("/users/{user_id}/logout", summary="Force logout: end all sessions of a user")
async def user_force_logout(request: HttpRequest, user_id: UUID) -> None:
    await services.user_force_logout(actor=_actor(request), user_id=user_id)
