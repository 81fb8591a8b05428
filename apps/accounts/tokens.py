"""RS256 JWTs: access and refresh tokens with sub, sid, jti, typ, iat, exp, iss (and kid in the header)."""

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from django.conf import settings

from apps.accounts.keys import signing_key, verification_keys
from apps.core.exceptions import TokenExpired, TokenInvalid

TokenType = Literal["access", "refresh"]
ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["sub", "sid", "jti", "typ", "iat", "exp", "iss"]


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    sid: str
    jti: str
    typ: TokenType
    iat: int
    exp: int
    extra: dict[str, Any]


def new_jti() -> str:
    return uuid.uuid4().hex


def encode_token(
    *,
    user_id: str,
    session_id: str,
    typ: TokenType,
    jti: str | None = None,
    ttl: int | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    lifetime = (
        ttl if ttl is not None else (settings.ACCESS_TOKEN_TTL if typ == "access" else settings.REFRESH_TOKEN_TTL)
    )
    payload = {
        **(extra or {}),
        "sub": user_id,
        "sid": session_id,
        "jti": jti or new_jti(),
        "typ": typ,
        "iat": now,
        "exp": now + lifetime,
        "iss": settings.JWT_ISSUER,
    }
    key = signing_key()
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def decode_token(token: str, *, typ: TokenType) -> TokenClaims:
    """Verify signature (RS256 only, known kid), exp, iss and typ; raise 40101/40102 domain errors."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenInvalid() from exc
    if header.get("alg") != ALGORITHM:
        raise TokenInvalid()
    public_key = verification_keys().get(str(header.get("kid", "")))
    if public_key is None:
        raise TokenInvalid()
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid() from exc
    if claims.get("typ") != typ:
        raise TokenInvalid()
    known = set(REQUIRED_CLAIMS)
    return TokenClaims(
        sub=str(claims["sub"]),
        sid=str(claims["sid"]),
        jti=str(claims["jti"]),
        typ=claims["typ"],
        iat=int(claims["iat"]),
        exp=int(claims["exp"]),
        extra={k: v for k, v in claims.items() if k not in known},
    )
