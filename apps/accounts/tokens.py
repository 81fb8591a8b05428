"""RS256 JWTs: access and refresh tokens with sub, sid, jti, typ, iat, exp, iss (and kid in the header)."""

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jwt
from django.conf import settings

from apps.accounts.keys import signing_key, verification_keys
from apps.core.exceptions import TokenExpired, TokenInvalid

TokenType = Literal["access", "refresh"]
ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["sub", "sid", "jti", "typ", "iat", "exp", "iss"]
LEEWAY = 5  # seconds of clock skew tolerated on exp
VERIFIED_CACHE_SIZE = 4096  # tokens per process whose verification is remembered


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


# Our tokens are under 1 KB (an RS256 signature of a 4096-bit key is 683 characters); anything far longer is
# refused before it is parsed, base64-decoded or hashed for the verification cache.
MAX_TOKEN_LENGTH = 4096


def decode_token(token: str, *, typ: TokenType) -> TokenClaims:
    """Verify signature (RS256 only, known kid), exp, iss and typ; raise 40101/40102 domain errors."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    claims = _verified_claims(token, settings.JWT_ISSUER, tuple(verification_keys()))
    if claims.exp + LEEWAY < time.time():  # checked on every use: the verification above may be cached
        raise TokenExpired()
    if claims.typ != typ:
        raise TokenInvalid()
    return claims


# NumericDates before 2106 (unsigned 32 bits): far beyond any real token, small enough for every consumer.
NUMERIC_DATE_MAX = 2**32


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """iat, exp (and nbf) are integer NumericDates in range, and no token outlives the longest lifetime we issue.

    PyJWT accepts "exp": "9999999999" or 1e30; a token signed with a leaked or misused key must not become a
    token that never expires.
    """
    for name in ("iat", "exp", "nbf"):
        value = claims.get(name, 0)
        if type(value) is not int or not 0 <= value < NUMERIC_DATE_MAX:
            raise TokenInvalid()
    lifetime = max(settings.ACCESS_TOKEN_TTL, settings.REFRESH_TOKEN_TTL)
    if claims["exp"] - claims["iat"] > lifetime + LEEWAY:
        raise TokenInvalid()


@lru_cache(maxsize=VERIFIED_CACHE_SIZE)
def _verified_claims(token: str, issuer: str, kids: tuple[str, ...]) -> TokenClaims:
    """The claims of a token whose header, signature, issuer and required claims check out.

    Cached: the same bytes under the same keys (kids are thumbprints of the keys' content) always verify the
    same way, and a signed-in client sends the same access token on every request, so the parsing and the RSA
    check run once per token and process. Only successes are cached (exceptions are not); expiry is not part
    of it (decode_token checks it on every use).
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenInvalid() from exc
    kid = str(header.get("kid", ""))
    if header.get("alg") != ALGORITHM or kid not in kids:
        raise TokenInvalid()
    try:
        claims = jwt.decode(
            token,
            verification_keys()[kid],
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS, "verify_exp": False},
            leeway=LEEWAY,
        )
        _check_numeric_dates(claims)
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
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise TokenInvalid() from exc
