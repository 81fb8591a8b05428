"""/auth: RSA login with a one-time challenge, token refresh, sessions, password, user info."""

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from ninja import Router

from apps.accounts import keys, selectors
from apps.accounts.access import public, signed_in
from apps.accounts.auth import AuthContext
from apps.accounts.login_crypto import challenge_issue
from apps.accounts.schemas import (
    BackupCodesOut,
    CaptchaOut,
    EnrolledSignInOut,
    ExpiredPasswordIn,
    LoginIn,
    OperationOut,
    PasswordChangeIn,
    PlainLoginIn,
    PublicKeyOut,
    RefreshIn,
    SessionOut,
    TokenPairOut,
    TwoFactorCodeIn,
    TwoFactorEnrolmentConfirmIn,
    TwoFactorEnrolmentIn,
    TwoFactorEnrolOut,
    TwoFactorLoginIn,
    TwoFactorStatusOut,
    UserInfoOut,
)
from apps.accounts.services import auth as auth_services
from apps.accounts.sessions import sessions_end
from apps.core.client_ip import client_ip
from apps.core.envelope import NO_ENVELOPE, also_answers, prerendered
from apps.core.exceptions import NotFound
from apps.security import captcha

router = Router(tags=["auth"])


def _client(request: HttpRequest) -> auth_services.ClientInfo:
    return auth_services.ClientInfo(
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        request_id=getattr(request, "request_id", None),
    )


def _context(request: HttpRequest) -> AuthContext:
    return request.auth_context  # type: ignore[attr-defined]


@router.get("/keys/public", response=PublicKeyOut, summary="Login public key and a one-time challenge")
@public
async def public_key(request: HttpRequest) -> dict[str, Any]:
    return {
        "kid": keys.login_key().kid,
        "algorithm": "RSA-OAEP-256",
        "public_key": keys.login_public_pem(),
        "challenge": await challenge_issue(),
        "challenge_expires_in": settings.LOGIN_CHALLENGE_TTL,
    }


@router.post("/login", response=TokenPairOut, summary="Sign in with an RSA-OAEP encrypted password")
@public
async def login(request: HttpRequest, payload: LoginIn) -> dict[str, Any]:
    pair = await auth_services.login(
        username=payload.username,
        encrypted_password=payload.password,
        client=_client(request),
        captcha_id=payload.captcha_id,
        captcha_answer=payload.captcha_answer,
    )
    return asdict(pair)


@router.post(
    "/login/2fa",
    response=TokenPairOut,
    summary="Complete a sign-in that answered 40106 with a TOTP or backup code",
)
@public
async def login_second_factor(request: HttpRequest, payload: TwoFactorLoginIn) -> dict[str, Any]:
    pair = await auth_services.login_second_factor(
        ticket=payload.two_factor_token, code=payload.code, client=_client(request)
    )
    return asdict(pair)


@router.post(
    "/login/2fa/enrol",
    response=TwoFactorEnrolOut,
    summary="After 40111: a new authenticator secret and its QR code",
    openapi_extra=also_answers(409),
)
@public
async def login_enrolment_start(request: HttpRequest, payload: TwoFactorEnrolmentIn) -> dict[str, Any]:
    return asdict(await auth_services.login_enrolment_start(ticket=payload.enrolment_token))


@router.post(
    "/login/2fa/enrol/confirm",
    response=EnrolledSignInOut,
    summary="After 40111: confirm the new secret with a code; the tokens and ten backup codes",
    openapi_extra=also_answers(404, 409),
)
@public
async def login_enrolment_confirm(request: HttpRequest, payload: TwoFactorEnrolmentConfirmIn) -> dict[str, Any]:
    done = await auth_services.login_enrolment_confirm(
        ticket=payload.enrolment_token, code=payload.code, client=_client(request)
    )
    return {**asdict(done.tokens), "backup_codes": done.backup_codes}


@router.post("/password/expired", response=TokenPairOut, summary="Replace an expired password (after 40110)")
@public
async def password_expired_change(request: HttpRequest, payload: ExpiredPasswordIn) -> dict[str, Any]:
    pair = await auth_services.password_expired_change(
        ticket=payload.password_change_token, new_password=payload.new_password, client=_client(request)
    )
    return asdict(pair)


@router.get("/captcha", response=CaptchaOut, summary="A captcha for sign-ins after repeated failures")
@public
async def captcha_new(request: HttpRequest) -> dict[str, Any]:
    return await captcha.captcha_issue()


@router.get("/2fa", response=TwoFactorStatusOut, summary="Whether two-factor sign-in is on")
@signed_in
async def two_factor_status(request: HttpRequest) -> dict[str, Any]:
    return await auth_services.two_factor_status(user=_context(request).user)


@router.post("/2fa/enrol", response=TwoFactorEnrolOut, summary="Start two-factor enrolment: secret and QR code")
@signed_in
async def two_factor_enrol(request: HttpRequest) -> dict[str, Any]:
    return asdict(await auth_services.two_factor_enrol(user=_context(request).user))


@router.post(
    "/2fa/confirm",
    response=BackupCodesOut,
    summary="Confirm enrolment with a first code",
    openapi_extra=also_answers(404),
)
@signed_in
async def two_factor_confirm(request: HttpRequest, payload: TwoFactorCodeIn) -> dict[str, Any]:
    codes = await auth_services.two_factor_confirm(
        user=_context(request).user, code=payload.code, client=_client(request)
    )
    return {"backup_codes": codes}


@router.post(
    "/2fa/disable", summary="Turn two-factor sign-in off (needs a current code)", openapi_extra=also_answers(404)
)
@signed_in
async def two_factor_disable(request: HttpRequest, payload: TwoFactorCodeIn) -> None:
    await auth_services.two_factor_disable(user=_context(request).user, code=payload.code, client=_client(request))


@router.post(
    "/2fa/backup-codes",
    response=BackupCodesOut,
    summary="New backup codes (needs a current code)",
    openapi_extra=also_answers(404),
)
@signed_in
async def two_factor_backup_codes(request: HttpRequest, payload: TwoFactorCodeIn) -> dict[str, Any]:
    codes = await auth_services.two_factor_backup_codes(
        user=_context(request).user, code=payload.code, client=_client(request)
    )
    return {"backup_codes": codes}


@router.post(
    "/login/plain",
    response=TokenPairOut,
    summary="Sign in with a plaintext password (DEBUG only)",
    openapi_extra=also_answers(404),
)
@public
async def login_plain(request: HttpRequest, payload: PlainLoginIn) -> dict[str, Any]:
    if not settings.DEBUG:
        raise NotFound()
    pair = await auth_services.login_plain(
        username=payload.username,
        password=payload.password,
        client=_client(request),
        captcha_id=payload.captcha_id,
        captcha_answer=payload.captcha_answer,
    )
    return asdict(pair)


@router.post("/token/refresh", response=TokenPairOut, summary="Rotate the token pair")
@public
async def token_refresh(request: HttpRequest, payload: RefreshIn) -> dict[str, Any]:
    return asdict(await auth_services.token_refresh(refresh_token=payload.refresh_token, client=_client(request)))


@router.post("/logout", summary="End the current session")
@signed_in
async def logout(request: HttpRequest) -> None:
    await auth_services.logout(user=_context(request).user, session_id=_context(request).session_id)


@router.post("/logout/all", summary="End every session of the user")
@signed_in
async def logout_all(request: HttpRequest) -> None:
    await auth_services.logout_all(user=_context(request).user)


@router.get("/user/info", response=UserInfoOut, summary="The signed-in user, roles and permissions")
@signed_in
async def user_info(request: HttpRequest) -> HttpResponse:
    return prerendered(await selectors.user_info_body(context=_context(request)))  # validated when rendered


@router.get("/user/routes", response=list[OperationOut], summary="Operations the caller may call")
@signed_in
async def user_routes(request: HttpRequest) -> list[Any]:
    return selectors.user_routes(context=_context(request))


@router.get("/sessions", response=list[SessionOut], summary="Own sessions")
@signed_in
async def session_list(request: HttpRequest) -> list[dict[str, Any]]:
    return await selectors.session_list(context=_context(request))


@router.delete("/sessions/{session_id}", summary="End one own session")
@signed_in
async def session_delete(request: HttpRequest, session_id: str) -> None:
    context = _context(request)
    ended = await sessions_end(user_id=str(context.user.pk), session_ids=[session_id], reason="session_delete")
    if not ended:
        raise NotFound(_("No such session"))


@router.post("/password", summary="Change the password; other sessions end")
@signed_in
async def password_change(request: HttpRequest, payload: PasswordChangeIn) -> None:
    context = _context(request)
    await auth_services.password_change(
        user=context.user,
        session_id=context.session_id,
        old_password=payload.old_password,
        new_password=payload.new_password,
    )


@router.get(
    "/jwks.json", summary="JWKS of the token-signing keys (bare JWKS, no envelope)", openapi_extra={NO_ENVELOPE: True}
)
@public
async def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(keys.jwks())
