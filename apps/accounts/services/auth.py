"""Sign-in, token refresh, sign-out and password change."""

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _

from apps.accounts.login_crypto import decrypt_with_challenge
from apps.accounts.models import RoleProfile, User
from apps.accounts.sessions import (
    Rotation,
    session_create,
    session_fields,
    session_rotate,
    sessions_end,
    sessions_end_all,
    user_agent_hash,
)
from apps.accounts.signals import CHANNEL_ADMIN, CHANNEL_API, login_attempted
from apps.accounts.throttle import throttle_release, throttle_reserve, throttle_succeeded
from apps.accounts.tokens import decode_token, encode_token, new_jti
from apps.core.exceptions import (
    BadCredentials,
    Conflict,
    DomainError,
    NotFound,
    PasswordChangeRequired,
    PermissionDenied,
    RateLimited,
    SessionRevoked,
    TokenInvalid,
    TwoFactorEnrolmentRequired,
    TwoFactorInvalid,
    TwoFactorRequired,
    ValidationFailed,
)
from apps.security import captcha, two_factor
from apps.security.validators import password_expired

logger = logging.getLogger("apps.accounts.auth")

T = TypeVar("T")


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str
    request_id: str | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    refresh_expires_in: int


@dataclass(frozen=True)
class EnrolledSignIn:
    """What completing a sign-in with a first second-factor code gives: the tokens and the backup codes."""

    tokens: TokenPair
    backup_codes: list[str]


async def two_factor_required(*, user_id: Any) -> bool:
    """Whether an active role of the user requires two-factor sign-in (superusers too, when they hold one)."""
    return await RoleProfile.objects.filter(group__user=user_id, is_active=True, require_two_factor=True).aexists()


def _issue_pair(*, user_id: str, session_id: str, refresh_jti: str) -> TokenPair:
    return TokenPair(
        access_token=encode_token(user_id=user_id, session_id=session_id, typ="access"),
        refresh_token=encode_token(user_id=user_id, session_id=session_id, typ="refresh", jti=refresh_jti),
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=settings.ACCESS_TOKEN_TTL,
        refresh_expires_in=settings.REFRESH_TOKEN_TTL,
    )


async def _record_attempt(
    *,
    username: str,
    user: User | None,
    success: bool,
    reason: str,
    client: ClientInfo,
    channel: str,
    event: str = "login",
) -> None:
    try:
        await login_attempted.asend(
            sender=None,
            username=username,
            user_id=str(user.pk) if user else None,
            success=success,
            reason=reason,
            ip=client.ip,
            user_agent=client.user_agent,
            request_id=client.request_id,
            channel=channel,
            event=event,
        )
    except Exception:  # a broken listener must not break sign-in
        logger.exception("login_attempted listener failed")


async def _failure_reason(username: str) -> str:
    user = await User.objects.filter(username=username).only("is_active").afirst()
    return "inactive" if user is not None and not user.is_active else "bad_credentials"


async def session_start(*, user: User, client: ClientInfo) -> TokenPair:
    """Open a session for an authenticated user and issue its first token pair."""
    refresh_jti = new_jti()
    sid = await session_create(
        user_id=str(user.pk), user_agent=client.user_agent, ip=client.ip, refresh_jti=refresh_jti
    )
    return _issue_pair(user_id=str(user.pk), session_id=sid, refresh_jti=refresh_jti)


async def _verify(
    *,
    username: str,
    client: ClientInfo,
    read_password: Callable[[], Awaitable[str]],
    channel: str,
    allowed: Callable[[User], bool] = lambda user: True,
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> User:
    """The throttled password check both sign-ins share; every refusal is recorded here, a success is not."""
    try:
        await throttle_reserve(username=username, ip=client.ip)  # before any password is checked
    except RateLimited:
        await _record_attempt(
            username=username, user=None, success=False, reason="throttled", client=client, channel=channel
        )
        raise
    await _captcha_check(
        username=username, client=client, channel=channel, captcha_id=captcha_id, captcha_answer=captcha_answer
    )
    try:
        password = await read_password()
        user = await sync_to_async(authenticate)(None, username=username, password=password)
    except DomainError as exc:  # the reserved slot stays taken: an undecryptable password is a failure too
        reason = "challenge_invalid" if exc.code == 40105 else "bad_request"
        await _record_attempt(
            username=username, user=None, success=False, reason=reason, client=client, channel=channel
        )
        await captcha.failure_counted(username=username, ip=client.ip)
        raise
    except Exception:  # an outage (database, Redis) is nobody's failed attempt: give the slot back
        await throttle_release(username=username, ip=client.ip)
        raise
    if user is None or not allowed(user):
        # A right password on an account this channel does not admit is a failure like any other.
        reason = await _failure_reason(username) if user is None else "not_staff"
        await _record_attempt(
            username=username, user=None, success=False, reason=reason, client=client, channel=channel
        )
        await captcha.failure_counted(username=username, ip=client.ip)
        raise BadCredentials()
    await throttle_succeeded(username=username, ip=client.ip)
    await captcha.success_counted(username=username)
    return user


async def _captcha_check(
    *, username: str, client: ClientInfo, channel: str, captcha_id: str | None, captcha_answer: str | None
) -> None:
    """Past the failure thresholds a sign-in needs a solved captcha: 40108 without one, 40109 for a wrong one."""
    if not await captcha.captcha_needed(username=username, ip=client.ip):
        return
    if not captcha_id or not captcha_answer:
        await throttle_release(username=username, ip=client.ip)  # no password was tried
        await _record_attempt(
            username=username,
            user=None,
            success=False,
            reason="captcha_required",
            client=client,
            channel=channel,
            event="captcha_failed",
        )
        raise captcha.CaptchaRequired(captcha.MESSAGES["required"])
    if not await captcha.captcha_solved(captcha_id, captcha_answer):  # the reserved slot stays taken
        await _record_attempt(
            username=username,
            user=None,
            success=False,
            reason="captcha_invalid",
            client=client,
            channel=channel,
            event="captcha_failed",
        )
        raise captcha.CaptchaInvalid(captcha.MESSAGES["invalid"])


async def _login(
    *,
    username: str,
    client: ClientInfo,
    read_password: Callable[[], Awaitable[str]],
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> TokenPair:
    user = await _verify(
        username=username,
        client=client,
        read_password=read_password,
        channel=CHANNEL_API,
        captcha_id=captcha_id,
        captcha_answer=captcha_answer,
    )
    if await two_factor.has_two_factor(user_id=user.pk):
        ticket = await _held_back(user=user, username=username, client=client, purpose="2fa", reason="2fa_required")
        raise TwoFactorRequired(
            data={
                "two_factor_token": ticket,
                "expires_in": settings.TWO_FACTOR_TICKET_TTL,
                "methods": ["totp", "backup_code"],
            }
        )
    if await two_factor_required(user_id=user.pk):
        ticket = await _held_back(
            user=user, username=username, client=client, purpose="2fa_enrol", reason="2fa_enrolment_required"
        )
        raise TwoFactorEnrolmentRequired(data={"enrolment_token": ticket, "expires_in": settings.TWO_FACTOR_TICKET_TTL})
    return await _signed_in(user=user, username=username, client=client)


async def _held_back(
    *, user: User, username: str, client: ClientInfo, purpose: str, reason: str, event: str = "login"
) -> str:
    """A right password that gets no tokens yet: the step is logged as refused, with a ticket for the next one."""
    ticket = await two_factor.ticket_issue(
        user_id=str(user.pk), username=user.username, channel=CHANNEL_API, purpose=purpose
    )
    await _record_attempt(
        username=username, user=user, success=False, reason=reason, client=client, channel=CHANNEL_API, event=event
    )
    return ticket


async def _signed_in(*, user: User, username: str, client: ClientInfo, event: str = "login") -> TokenPair:
    if await sync_to_async(password_expired)(user):
        ticket = await _held_back(
            user=user,
            username=username,
            client=client,
            purpose="password_change",
            reason="password_expired",
            event=event,
        )
        raise PasswordChangeRequired(
            data={"password_change_token": ticket, "expires_in": settings.TWO_FACTOR_TICKET_TTL}
        )
    return await _tokens_for(user=user, username=username, client=client, event=event)


async def _tokens_for(*, user: User, username: str, client: ClientInfo, event: str) -> TokenPair:
    await sync_to_async(update_last_login)(User, user)
    pair = await session_start(user=user, client=client)
    await _record_attempt(
        username=username, user=user, success=True, reason="ok", client=client, channel=CHANNEL_API, event=event
    )
    return pair


async def _throttled_code_check(
    check: Callable[[], Awaitable[T | None]], *, user: User, username: str, client: ClientInfo, channel: str
) -> T:
    """One second-factor code checked under the login throttle: a wrong one (check answers None) counts as a
    failed sign-in and is logged "2fa_failed", like a refusal by the throttle; an error releases the attempt."""

    async def failed(reason: str) -> None:
        await _record_attempt(
            username=username,
            user=user,
            success=False,
            reason=reason,
            client=client,
            channel=channel,
            event="2fa_failed",
        )

    try:
        await throttle_reserve(username=username, ip=client.ip)
    except RateLimited:
        await failed("throttled")
        raise
    try:
        result = await check()
    except Exception:
        await throttle_release(username=username, ip=client.ip)
        raise
    if result is None:
        await failed("bad_code")
        raise TwoFactorInvalid()
    await throttle_succeeded(username=username, ip=client.ip)
    return result


async def second_factor_check(*, user: User, username: str, code: str, client: ClientInfo, channel: str) -> None:
    """One throttled TOTP or backup-code check of a sign-in."""
    await _throttled_code_check(
        lambda: two_factor.verify(user.pk, code), user=user, username=username, client=client, channel=channel
    )


async def enrolment_check(*, user: User, username: str, code: str, client: ClientInfo, channel: str) -> list[str]:
    """Confirm a started enrolment with its first code, throttled like a second factor; the ten backup codes.

    Success is logged "2fa_enrolled".
    """
    codes = await _throttled_code_check(
        lambda: two_factor.confirm(user, code, time.time()),
        user=user,
        username=username,
        client=client,
        channel=channel,
    )
    await _record_attempt(
        username=username, user=user, success=True, reason="ok", client=client, channel=channel, event="2fa_enrolled"
    )
    return codes


async def _enrolment_user(ticket: str) -> tuple[User, str]:
    """The user of a 40111 ticket, still active and still without a second factor."""
    document = await two_factor.ticket_read(ticket, purpose="2fa_enrol")
    user = await User.objects.filter(pk=document["uid"], is_active=True).afirst()
    if user is None or document.get("channel") != CHANNEL_API:
        await two_factor.ticket_consume(ticket)
        raise BadCredentials()
    if await two_factor.has_two_factor(user_id=user.pk):
        raise Conflict(_("Two-factor sign-in is already on: sign in again with a code"))
    return user, document["username"]


async def login_enrolment_start(*, ticket: str) -> two_factor.Enrolment:
    """After 40111: a new secret and its QR code for the ticket's user (the ticket stays usable)."""
    user, _username = await _enrolment_user(ticket)
    return await two_factor.enrol(user)


async def login_enrolment_confirm(*, ticket: str, code: str, client: ClientInfo) -> EnrolledSignIn:
    """After 40111 and the enrolment start: the first code turns two-factor sign-in on and signs in."""
    user, username = await _enrolment_user(ticket)
    codes = await enrolment_check(user=user, username=username, code=code, client=client, channel=CHANNEL_API)
    await two_factor.ticket_consume(ticket)
    try:
        tokens = await _signed_in(user=user, username=username, client=client, event="2fa_used")
    except PasswordChangeRequired as exc:  # the backup codes are shown once: they ride along with the 40110
        raise PasswordChangeRequired(data={**(exc.data or {}), "backup_codes": codes}) from None
    return EnrolledSignIn(tokens=tokens, backup_codes=codes)


async def login_second_factor(*, ticket: str, code: str, client: ClientInfo) -> TokenPair:
    """Complete a sign-in that answered 40106: the ticket's user, one TOTP or backup code, then the tokens."""
    document = await two_factor.ticket_read(ticket, purpose="2fa")
    username = document["username"]
    user = await User.objects.filter(pk=document["uid"], is_active=True).afirst()
    if user is None or document.get("channel") != CHANNEL_API:
        await two_factor.ticket_consume(ticket)
        raise BadCredentials()
    await second_factor_check(user=user, username=username, code=code, client=client, channel=CHANNEL_API)
    await two_factor.ticket_consume(ticket)  # 40105 when a racing request with another valid code won
    return await _signed_in(user=user, username=username, client=client, event="2fa_used")


async def admin_sign_in(
    *,
    username: str,
    password: str,
    client: ClientInfo,
    otp_code: str = "",
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> tuple[User, list[str]]:
    """The admin site's password check: the same throttle and login logs as the API's, channel "admin".

    Only active staff get through (the admin admits no one else); Django's login view then opens the session.
    A user with two-factor sign-in on also needs a current code (40106 without one, 40107 for a wrong one).
    A user whose role requires it and who has none gets a new secret (40111 with the enrolment as data); the
    next sign-in with a code from it turns two-factor sign-in on and answers the backup codes beside the user.
    """
    user = await _verify(
        username=username,
        client=client,
        read_password=lambda: _as_is(password),
        channel=CHANNEL_ADMIN,
        allowed=lambda candidate: candidate.is_active and candidate.is_staff,
        captcha_id=captcha_id,
        captcha_answer=captcha_answer,
    )
    event = "login"
    if await sync_to_async(password_expired)(user):
        # The admin has no change-on-sign-in page: the API's 40110 flow or a reset link renews the password.
        await _record_attempt(
            username=username,
            user=user,
            success=False,
            reason="password_expired",
            client=client,
            channel=CHANNEL_ADMIN,
        )
        raise PasswordChangeRequired()
    if await two_factor.has_two_factor(user_id=user.pk):
        if not otp_code.strip():
            await _record_attempt(
                username=username,
                user=user,
                success=False,
                reason="2fa_required",
                client=client,
                channel=CHANNEL_ADMIN,
            )
            raise TwoFactorRequired()
        await second_factor_check(user=user, username=username, code=otp_code, client=client, channel=CHANNEL_ADMIN)
        event = "2fa_used"
    elif await two_factor_required(user_id=user.pk):
        if otp_code.strip() and await two_factor.enrolment_started(user_id=user.pk):
            backup_codes = await enrolment_check(
                user=user, username=username, code=otp_code, client=client, channel=CHANNEL_ADMIN
            )
            await _record_attempt(
                username=username,
                user=user,
                success=True,
                reason="ok",
                client=client,
                channel=CHANNEL_ADMIN,
                event="2fa_used",
            )
            return user, backup_codes
        await _record_attempt(
            username=username,
            user=user,
            success=False,
            reason="2fa_enrolment_required",
            client=client,
            channel=CHANNEL_ADMIN,
        )
        raise TwoFactorEnrolmentRequired(data=asdict(await two_factor.enrol(user)))
    await _record_attempt(
        username=username, user=user, success=True, reason="ok", client=client, channel=CHANNEL_ADMIN, event=event
    )
    return user, []


async def _decrypt_one(ciphertext: str) -> str:
    (password,) = await decrypt_with_challenge(ciphertext)
    return password


async def _as_is(password: str) -> str:
    return password


async def login(
    *,
    username: str,
    encrypted_password: str,
    client: ClientInfo,
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> TokenPair:
    return await _login(
        username=username,
        client=client,
        read_password=lambda: _decrypt_one(encrypted_password),
        captcha_id=captcha_id,
        captcha_answer=captcha_answer,
    )


async def login_plain(
    *,
    username: str,
    password: str,
    client: ClientInfo,
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> TokenPair:
    """DEBUG-only convenience (the route answers 404 without DEBUG)."""
    return await _login(
        username=username,
        client=client,
        read_password=lambda: _as_is(password),
        captcha_id=captcha_id,
        captcha_answer=captcha_answer,
    )


async def token_refresh(*, refresh_token: str, client: ClientInfo) -> TokenPair:
    claims = decode_token(refresh_token, typ="refresh")
    session_user, ua_hash = await session_fields(claims.sid, "uid", "ua_hash")
    if session_user is None or session_user != claims.sub:
        raise SessionRevoked()
    if ua_hash != user_agent_hash(client.user_agent):
        raise TokenInvalid(_("refresh token is bound to another client"))
    user = await User.objects.filter(pk=claims.sub).only("is_active").afirst()
    if user is None or not user.is_active:
        await sessions_end(user_id=claims.sub, session_ids=[claims.sid], reason="deactivated")
        raise SessionRevoked()
    next_jti = new_jti()
    rotation = await session_rotate(sid=claims.sid, presented_jti=claims.jti, new_jti=next_jti)
    if rotation is Rotation.REUSED:
        logger.warning("refresh token reuse detected; session ended", extra={"user_id": claims.sub})
        await sessions_end(user_id=claims.sub, session_ids=[claims.sid], reason="refresh_reuse")
        raise SessionRevoked(_("Refresh token reuse detected; the session was ended"))
    if rotation is Rotation.MISSING:
        raise SessionRevoked()
    return _issue_pair(user_id=claims.sub, session_id=claims.sid, refresh_jti=next_jti)


async def logout(*, user: User, session_id: str) -> None:
    await sessions_end(user_id=str(user.pk), session_ids=[session_id], reason="logout")


async def logout_all(*, user: User) -> None:
    await sessions_end_all(user_id=str(user.pk), reason="logout_all")


async def password_change(*, user: User, session_id: str, old_password: str, new_password: str) -> None:
    """Both values are sealed with the same challenge; the other sessions end on success."""
    old_plain, new_plain = await decrypt_with_challenge(old_password, new_password)
    account = await User.objects.aget(pk=user.pk)
    if not await sync_to_async(account.check_password)(old_plain):
        raise BadCredentials(_("Current password is wrong"))
    try:
        await sync_to_async(validate_password)(new_plain, account)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "New password is not acceptable",
            data=[{"loc": ["body", "new_password"], "msg": message} for message in exc.messages],
        ) from exc
    account.set_password(new_plain)
    await account.asave(update_fields=["password"])
    await sessions_end_all(user_id=str(user.pk), reason="password_change", keep=session_id)


async def two_factor_enrol(*, user: User) -> two_factor.Enrolment:
    return await two_factor.enrol(user)


async def two_factor_confirm(*, user: User, code: str, client: ClientInfo) -> list[str]:
    """Turn two-factor sign-in on with a first code; answers the ten backup codes (shown once)."""
    return await enrolment_check(user=user, username=user.username, code=code, client=client, channel=CHANNEL_API)


async def two_factor_disable(*, user: User, code: str, client: ClientInfo) -> None:
    """Turn it off with a current code, checked under the login throttle like a sign-in's."""
    if not await two_factor.has_two_factor(user_id=user.pk):
        raise NotFound(_("Two-factor sign-in is not on"))
    if await two_factor_required(user_id=user.pk):
        raise PermissionDenied(_("A role of yours requires two-factor sign-in: it cannot be turned off"))

    async def turned_off() -> bool | None:
        return True if await two_factor.disable(user, code, None) else None

    await _throttled_code_check(turned_off, user=user, username=user.username, client=client, channel=CHANNEL_API)
    await _record_attempt(
        username=user.username,
        user=user,
        success=True,
        reason="ok",
        client=client,
        channel=CHANNEL_API,
        event="2fa_disabled",
    )


async def two_factor_backup_codes(*, user: User, code: str, client: ClientInfo) -> list[str]:
    """Ten new backup codes (the old ones stop working), for a current code checked under the login throttle."""
    if not await two_factor.has_two_factor(user_id=user.pk):
        raise NotFound(_("Two-factor sign-in is not on"))
    return await _throttled_code_check(
        lambda: two_factor.regenerate_backup_codes(user, code, None),
        user=user,
        username=user.username,
        client=client,
        channel=CHANNEL_API,
    )


async def two_factor_status(*, user: User) -> dict[str, Any]:
    enabled = await two_factor.has_two_factor(user_id=user.pk)
    left = await sync_to_async(two_factor.backup_codes_left_sync)(user.pk) if enabled else 0
    return {"enabled": enabled, "backup_codes_left": left, "required": await two_factor_required(user_id=user.pk)}


async def password_expired_change(*, ticket: str, new_password: str, client: ClientInfo) -> TokenPair:
    """Complete a sign-in that answered 40110: a new password (sealed like login's), then the tokens."""
    document = await two_factor.ticket_read(ticket, purpose="password_change")
    (new_plain,) = await decrypt_with_challenge(new_password)
    account = await User.objects.filter(pk=document["uid"], is_active=True).afirst()
    if account is None:
        await two_factor.ticket_consume(ticket)
        raise BadCredentials()
    try:
        await sync_to_async(validate_password)(new_plain, account)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "New password is not acceptable",
            data=[{"loc": ["body", "new_password"], "msg": message} for message in exc.messages],
        ) from exc
    await two_factor.ticket_consume(ticket)
    account.set_password(new_plain)
    await account.asave(update_fields=["password"])
    await sessions_end_all(user_id=str(account.pk), reason="password_change")
    return await _tokens_for(user=account, username=document["username"], client=client, event="password_changed")
