"""The one async auth class of the API: RS256 token -> live session -> cached permissions -> operation check.

A warm request costs one Redis round trip: one script reads the session, the versions and (unless this process's
copy is current) the cached state, and counts the request for the per-user rate limit.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from ninja.security import HttpBearer

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.authz import (
    UNVERSIONED,
    global_version_key,
    known_states,
    resolve_state,
    state_key,
    user_version_key,
)
from apps.accounts.models import User
from apps.accounts.sessions import seen_key, session_key, session_touch
from apps.accounts.tokens import decode_token
from apps.core.exceptions import NotAuthenticated, PermissionDenied, SessionRevoked, TokenInvalid
from apps.core.ratelimit import user_counter
from apps.core.redis_scripts import RequestPathScript

SEEN_RESOLUTION = 60  # seconds: last_seen_at is refreshed at most this often per session

# KEYS: session, last seen, state, global version, user version[, rate-limit counter]
# ARGV: the versions of this process's copy of the state, the counter's expiry time
# One script instead of a pipeline of six commands: one reply to parse (a third of the Redis cost), the state
# document only when this process's copy is stale or gone from Redis, and the counter's expiry set in place.
READ_SESSION_SCRIPT = """
local uid = redis.call('hget', KEYS[1], 'uid')
local seen = redis.call('get', KEYS[2])
local gv = redis.call('get', KEYS[4]) or '0'
local uv = redis.call('get', KEYS[5]) or '0'
local state
if gv == ARGV[1] and uv == ARGV[2] and redis.call('exists', KEYS[3]) == 1 then
  state = 1
else
  state = redis.call('get', KEYS[3])
end
local count = false
if #KEYS > 5 then
  count = redis.call('incr', KEYS[6])
  if count == 1 then redis.call('expireat', KEYS[6], ARGV[3]) end
end
return {uid, seen, gv, uv, state, count}
"""


read_session = RequestPathScript(READ_SESSION_SCRIPT)


@dataclass(frozen=True)
class AuthContext:
    user: User
    session_id: str
    codes: frozenset[str]
    roles: tuple[tuple[int, str], ...] = ()
    # The global authorization version this request was checked under: bumped by any change to roles or
    # permissions, so it also keys caches of what roles look like (see rbac_selectors.role_list_body).
    authz_version: str = UNVERSIONED
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # see AuthzState.rendered

    def allows(self, code: str) -> bool:
        return self.user.is_superuser or code in self.codes


async def authenticate_token(token: str, request: HttpRequest | None = None) -> AuthContext:
    """Verify an access token and its live session; raise 40101/40102/40103 domain errors.

    With the API request, its rate-limit count rides in the same script (apps/core/ratelimit.py).
    """
    claims = decode_token(token, typ="access")
    counter = user_counter(request, claims.sub) if request is not None else None
    keys = [
        session_key(claims.sid),
        seen_key(claims.sid),
        state_key(claims.sub),
        global_version_key(),
        user_version_key(claims.sub),
    ]
    known_global, known_user = known_states.versions(claims.sub)
    arguments: list[str | int] = [known_global, known_user]
    if counter is not None:
        keys.append(counter.key)
        arguments.append(counter.expire_at)
    reply = await read_session(keys, arguments)
    session_user, seen, global_version, user_version, cached, count = reply
    if counter is not None and request is not None:
        counter.record(request, int(count))
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
        authz_version=global_version or UNVERSIONED,
        rendered=state.rendered,
    )


def bearer_token(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")  # META: request.headers would copy every header first
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
