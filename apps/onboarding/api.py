"""Password reset, invitation acceptance and sign-up (public, under /auth) and invitations (operators)."""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Query, Router
from ninja.responses import Status

from apps.accounts.access import public
from apps.accounts.auth import AuthContext
from apps.core.client_ip import client_ip
from apps.core.envelope import also_answers
from apps.core.pagination import Page, PageIn
from apps.onboarding import services
from apps.onboarding.events import Client
from apps.onboarding.schemas import (
    AccountOut,
    InvitationAcceptIn,
    InvitationCheckOut,
    InvitationFilter,
    InvitationIn,
    InvitationOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    SignupIn,
    TokenIn,
)

auth_router = Router(tags=["auth"])
router = Router(tags=["invitations"])


def _operator(request: HttpRequest) -> AuthContext:
    return request.auth_context  # type: ignore[attr-defined]


def _client(request: HttpRequest) -> Client:
    return Client(
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        request_id=getattr(request, "request_id", None),
    )


@auth_router.post("/password/reset", summary="Mail a password-reset link (same answer for every address)")
@public
async def password_reset(request: HttpRequest, payload: PasswordResetIn) -> None:
    await services.password_reset_request(email=payload.email, language=get_language(), client=_client(request))


@auth_router.post("/password/reset/confirm", summary="Set a new password with a reset link; every session ends")
@public
async def password_reset_confirm(request: HttpRequest, payload: PasswordResetConfirmIn) -> None:
    await services.password_reset_confirm_sealed(
        token=payload.token, sealed_password=payload.new_password, client=_client(request)
    )


@auth_router.post("/invitations/check", response=InvitationCheckOut, summary="Who an invitation link is for")
@public
async def invitation_check(request: HttpRequest, payload: TokenIn) -> dict[str, Any]:
    return await services.invitation_check(token=payload.token)


@auth_router.post(
    "/invitations/accept",
    response={201: AccountOut},
    summary="Create the invited account with a password",
    openapi_extra=also_answers(409),
)
@public
async def invitation_accept(request: HttpRequest, payload: InvitationAcceptIn) -> Any:
    account = await services.invitation_accept_sealed(
        token=payload.token,
        username=payload.username,
        sealed_password=payload.password,
        full_name=payload.full_name,
        client=_client(request),
    )
    return Status(201, account)


@auth_router.post(
    "/signup",
    summary="Sign up (when SIGNUP_ENABLED); the account is active once its address is verified",
    openapi_extra=also_answers(404, 409),
)
@public
async def signup(request: HttpRequest, payload: SignupIn) -> None:
    await services.signup_sealed(
        username=payload.username,
        email=payload.email,
        sealed_password=payload.password,
        full_name=payload.full_name,
        language=get_language(),
        client=_client(request),
    )


@auth_router.post("/signup/verify", summary="Verify a sign-up's address with the mailed link")
@public
async def signup_verify(request: HttpRequest, payload: TokenIn) -> None:
    await services.signup_verify(token=payload.token, client=_client(request))


@router.get("/invitations", response=Page[InvitationOut], summary="List invitations")
async def invitation_list(request: HttpRequest, filters: Query[InvitationFilter], page: Query[PageIn]) -> Any:
    return await services.invitation_list(filters=filters, page=page, actor=_operator(request).user)


@router.post(
    "/invitations",
    response={201: InvitationOut},
    summary="Invite by e-mail, with roles",
    openapi_extra=also_answers(409),
)
async def invitation_create(request: HttpRequest, payload: InvitationIn) -> Any:
    actor = _operator(request)
    return Status(201, await services.invitation_create(actor=actor, data=payload, language=get_language()))


@router.get("/invitations/{invitation_id}", response=InvitationOut, summary="One invitation")
async def invitation_get(request: HttpRequest, invitation_id: UUID) -> Any:
    return await services.invitation_get(invitation_id=invitation_id, actor=_operator(request).user)


@router.delete("/invitations/{invitation_id}", summary="Revoke a pending invitation", openapi_extra=also_answers(409))
async def invitation_revoke(request: HttpRequest, invitation_id: UUID) -> None:
    await services.invitation_revoke(invitation_id=invitation_id, actor=_operator(request).user)
