"""The one async auth class of the API: RS256 token -> live session -> cached permissions -> operation check.

A warm request costs one Redis round trip (a pipeline reading the session, the versions and the cached state).
"""

import time
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from ninja.security import HttpBearer

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.authz import global_version_key, resolve_state, state_key, user_version_key
from apps.accounts.models import User
from apps.accounts.sessions import seen_key, session_key, session_touch
from apps.accounts.tokens import decode_token
from apps.core.exceptions import NotAuthenticated, PermissionDenied, SessionRevoked, TokenInvalid
from apps.core.ratelimit import user_counter
from apps.core.redis import async_redis

SEEN_RESOLUTION = 60  # seconds: last_seen_at is refreshed at most this often per session


@dataclass(frozen=True)
class AuthContext:
    user: User
    session_id: str
    codes: frozenset[str]
    roles: tuple[tuple[int, str], ...] = ()
    # The global authorization version this request was checked under: bumped by any change to roles or
    # permissions, so it also keys caches of what roles look like (see rbac_selectors.role_list).
    authz_version: str = "0"

    def allows(self, code: str) -> bool:
        return self.user.is_superuser or code in self.codes


async def authenticate_token(token: str, request: HttpRequest | None = None) -> AuthContext:
    """Verify an access token and its live session; raise 40101/40102/40103 domain errors.

    With the API request, its rate-limit count rides in the same pipeline (apps/core/ratelimit.py).
    """
    claims = decode_token(token, typ="access")
    counter = user_counter(request, claims.sub) if request is not None else None
    redis = async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(session_key(claims.sid), "uid")
        pipe.get(seen_key(claims.sid))
        pipe.get(state_key(claims.sub))
        pipe.get(global_version_key())
        pipe.get(user_version_key(claims.sub))
        if counter is not None:
            counter.queue(pipe)
        session_user, seen, cached, global_version, user_version, *counted = await pipe.execute()
    if counter is not None and request is not None:
        await counter.settle(request, counted)
    if session_user != claims.sub:
        raise SessionRevoked()
    state = await resolve_state(claims.sub, cached, global_version, user_version)
    if state is None or not state.user.is_active:
        raise SessionRevoked()
    if seen is None or time.time() - datetime.fromisoformat(seen).timestamp() > SEEN_RESOLUTION:
        await session_touch(claims.sid)
    return AuthContext(
        user=state.user,
        session_id=claims.sid,
        codes=state.codes,
        roles=state.roles,
        authz_version=global_version or "0",
    )


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if not header:
        raise NotAuthenticated()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid(gettext_lazy("Authorization header must be 'Bearer <access token>'"))
    return token.strip()


class JWTAuth(HttpBearer):
    """Default auth of every operation that is not marked public (see apps/accounts/access.py)."""

    async def __call__(self, request: HttpRequest) -> User:
        operation = routes.operation_for(request)
        context = await authenticate_token(bearer_token(request), request)
        request.auth_context = context  # type: ignore[attr-defined]
        access = operation.access if operation else Access.PERMISSION
        if access is Access.PERMISSION:
            code = operation.code if operation else routes.fallback_code(request)
            if not context.allows(code):
                raise PermissionDenied()
        return context.user

    def authenticate(self, request: HttpRequest, token: str) -> User | None:  # pragma: no cover - unused
        raise NotImplementedError
