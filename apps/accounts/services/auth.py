"""Sign-in, token refresh, sign-out and password change."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _

from apps.accounts.login_crypto import decrypt_with_challenge
from apps.accounts.models import User
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
    DomainError,
    RateLimited,
    SessionRevoked,
    TokenInvalid,
    ValidationFailed,
)

logger = logging.getLogger("apps.accounts.auth")


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


def _issue_pair(*, user_id: str, session_id: str, refresh_jti: str) -> TokenPair:
    return TokenPair(
        access_token=encode_token(user_id=user_id, session_id=session_id, typ="access"),
        refresh_token=encode_token(user_id=user_id, session_id=session_id, typ="refresh", jti=refresh_jti),
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=settings.ACCESS_TOKEN_TTL,
        refresh_expires_in=settings.REFRESH_TOKEN_TTL,
    )


async def _record_attempt(
    *, username: str, user: User | None, success: bool, reason: str, client: ClientInfo, channel: str
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
) -> User:
    """The throttled password check both sign-ins share; every refusal is recorded here, a success is not."""
    try:
        await throttle_reserve(username=username, ip=client.ip)  # before any password is checked
    except RateLimited:
        await _record_attempt(
            username=username, user=None, success=False, reason="throttled", client=client, channel=channel
        )
        raise
    try:
        password = await read_password()
        user = await sync_to_async(authenticate)(None, username=username, password=password)
    except DomainError as exc:  # the reserved slot stays taken: an undecryptable password is a failure too
        reason = "challenge_invalid" if exc.code == 40105 else "bad_request"
        await _record_attempt(
            username=username, user=None, success=False, reason=reason, client=client, channel=channel
        )
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
        raise BadCredentials()
    await throttle_succeeded(username=username, ip=client.ip)
    return user


async def _login(*, username: str, client: ClientInfo, read_password: Callable[[], Awaitable[str]]) -> TokenPair:
    user = await _verify(username=username, client=client, read_password=read_password, channel=CHANNEL_API)
    await sync_to_async(update_last_login)(User, user)
    pair = await session_start(user=user, client=client)
    await _record_attempt(username=username, user=user, success=True, reason="ok", client=client, channel=CHANNEL_API)
    return pair


async def admin_sign_in(*, username: str, password: str, client: ClientInfo) -> User:
    """The admin site's password check: the same throttle and login logs as the API's, channel "admin".

    Only active staff get through (the admin admits no one else); Django's login view then opens the session.
    """
    user = await _verify(
        username=username,
        client=client,
        read_password=lambda: _as_is(password),
        channel=CHANNEL_ADMIN,
        allowed=lambda candidate: candidate.is_active and candidate.is_staff,
    )
    await _record_attempt(username=username, user=user, success=True, reason="ok", client=client, channel=CHANNEL_ADMIN)
    return user


async def _decrypt_one(ciphertext: str) -> str:
    (password,) = await decrypt_with_challenge(ciphertext)
    return password


async def _as_is(password: str) -> str:
    return password


async def login(*, username: str, encrypted_password: str, client: ClientInfo) -> TokenPair:
    return await _login(username=username, client=client, read_password=lambda: _decrypt_one(encrypted_password))


async def login_plain(*, username: str, password: str, client: ClientInfo) -> TokenPair:
    """DEBUG-only convenience (the route answers 404 without DEBUG)."""
    return await _login(username=username, client=client, read_password=lambda: _as_is(password))


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
