"""ASGI middleware of /ws/: origin check, and access-token authentication from the query or subprotocol."""

import logging
from typing import Any
from urllib.parse import ParseResult, parse_qsl, urlencode

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from apps.accounts.auth import authenticate_token
from apps.core.exceptions import DEFAULT_MESSAGES, DomainError, ErrorCode
from apps.realtime.gate import redis_slot

logger = logging.getLogger("apps.realtime")

BEARER_SUBPROTOCOL = "bearer"
TOKEN_QUERY_PARAM = "token"  # noqa: S105  (a parameter name, not a secret)
# Scope keys the consumer reads.
SCOPE_AUTH = "auth"  # the AuthContext of a verified token
SCOPE_AUTH_ERROR = "auth_error"  # (close code, reason) when there is none
SCOPE_SUBPROTOCOL = "accept_subprotocol"  # the subprotocol to select in the accept ("bearer" or None)

# Servers may only send 1000 or 3000-4999 (daphne refuses 1011/1013): 4xxx mirror the HTTP statuses.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_INTERNAL_ERROR = 4500
CLOSE_TRY_AGAIN_LATER = 4503

ASGIApp = Any


def allowed_origins() -> list[str]:
    """WS_ALLOWED_ORIGINS, else ALLOWED_HOSTS (with Channels' DEBUG fallback when that is empty)."""
    if settings.WS_ALLOWED_ORIGINS:
        return list(settings.WS_ALLOWED_ORIGINS)
    if settings.ALLOWED_HOSTS:
        return list(settings.ALLOWED_HOSTS)
    return ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []


class OriginGuard(OriginValidator):
    """Channels' origin rules for browsers; a client that sends no Origin header (not a browser) passes."""

    def __init__(self, application: ASGIApp, origins: list[str] | None = None) -> None:
        super().__init__(application, origins if origins is not None else allowed_origins())

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return bool(self.validate_origin(parsed_origin))


def _extract_token(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """The token and the subprotocol to accept with; strips the token from the scope so nothing can log it."""
    token: str | None = None
    subprotocol: str | None = None
    subprotocols = list(scope.get("subprotocols") or [])
    if subprotocols and subprotocols[0].lower() == BEARER_SUBPROTOCOL:
        subprotocol = subprotocols[0]
        token = subprotocols[1] if len(subprotocols) > 1 else None
        scope["subprotocols"] = [subprotocol]
        scope["headers"] = [
            (name, subprotocol.encode()) if name == b"sec-websocket-protocol" else (name, value)
            for name, value in scope.get("headers", [])
        ]
    query = scope.get("query_string") or b""
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        kept = [(name, value) for name, value in pairs if name != TOKEN_QUERY_PARAM]
        if len(kept) != len(pairs):
            if token is None:
                token = next(value for name, value in pairs if name == TOKEN_QUERY_PARAM)
            scope["query_string"] = urlencode(kept).encode("latin-1")
    return (token.strip() or None) if token else None, subprotocol


def failure_close(exc: Exception, what: str) -> tuple[int, str]:
    """Close code and reason for an unexpected failure while connecting (logged here, never sent in detail)."""
    if isinstance(exc, RedisError | DatabaseError | OSError):
        logger.warning("%s: a dependency is unavailable", what, exc_info=True)
        return CLOSE_TRY_AGAIN_LATER, "service unavailable"
    logger.exception(what)
    return CLOSE_INTERNAL_ERROR, "internal error"


class TokenAuthMiddleware:
    """Verifies the access token like the HTTP auth class (signature, expiry, live session, active user).

    The result goes into the scope; the consumer accepts and then closes with 4401 when there is none, so
    browsers see the close code instead of a bare handshake failure.
    """

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.application(scope, receive, send)
        scope = dict(scope)
        token, subprotocol = _extract_token(scope)
        scope[SCOPE_SUBPROTOCOL] = subprotocol
        scope[SCOPE_AUTH] = None
        scope[SCOPE_AUTH_ERROR] = None
        if token is None:
            scope[SCOPE_AUTH_ERROR] = (CLOSE_UNAUTHENTICATED, f"{int(ErrorCode.NOT_AUTHENTICATED)} Not authenticated")
        else:
            try:
                async with redis_slot():
                    context = await authenticate_token(token)
            except DomainError as exc:
                if exc.code is ErrorCode.SERVICE_UNAVAILABLE:
                    scope[SCOPE_AUTH_ERROR] = (CLOSE_TRY_AGAIN_LATER, "service unavailable")
                else:
                    # The business code tells a client whether refreshing the token can help (40101) or not.
                    reason = f"{int(exc.code)} {DEFAULT_MESSAGES.get(exc.code, 'not authenticated')}"
                    scope[SCOPE_AUTH_ERROR] = (CLOSE_UNAUTHENTICATED, reason)
                logger.info("websocket authentication refused", extra={"code": int(exc.code)})
            except Exception as exc:
                scope[SCOPE_AUTH_ERROR] = failure_close(exc, "websocket authentication failed")
            else:
                scope[SCOPE_AUTH] = context
                scope["user"] = context.user
        return await self.application(scope, receive, send)
