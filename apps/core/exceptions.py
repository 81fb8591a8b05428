"""Business error codes and the domain exceptions services raise; config/api.py maps them to the envelope.

Messages are lazy translations: they are rendered when the response is, in the request's language.
"""

from enum import IntEnum
from typing import Any, cast

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


def _(message: str) -> str:
    """A lazy translation typed as the str it renders to: these defaults go wherever a str goes (envelopes,
    websocket frames, close reasons), and every JSON encoder of the project renders them."""
    return cast(str, gettext_lazy(message))


class ErrorCode(IntEnum):
    OK = 0
    BAD_REQUEST = 40000
    LINK_INVALID = 40001  # a one-time link (password reset, invitation, verification) unknown, used or expired
    NOT_AUTHENTICATED = 40100
    TOKEN_EXPIRED = 40101
    TOKEN_INVALID = 40102
    SESSION_REVOKED = 40103
    BAD_CREDENTIALS = 40104
    CHALLENGE_INVALID = 40105
    TWO_FACTOR_REQUIRED = 40106  # password right; data carries the ticket POST /auth/login/2fa completes
    TWO_FACTOR_INVALID = 40107  # a wrong, expired or already used second-factor code
    CAPTCHA_REQUIRED = 40108  # after repeated failed sign-ins: a captcha must come with the next one
    CAPTCHA_INVALID = 40109  # the captcha answer is wrong, or the captcha unknown, used or expired
    PASSWORD_CHANGE_REQUIRED = 40110  # the password expired; data carries the ticket POST /auth/password/expired takes
    TWO_FACTOR_ENROLMENT_REQUIRED = 40111  # a role requires a second factor the user has not set up; data: a ticket
    PERMISSION_DENIED = 40300
    NOT_FOUND = 40400
    METHOD_NOT_ALLOWED = 40500
    CONFLICT = 40900
    PAYLOAD_TOO_LARGE = 41300
    UNSUPPORTED_MEDIA_TYPE = 41500
    VALIDATION_ERROR = 42200
    RATE_LIMITED = 42900
    INTERNAL_ERROR = 50000
    SERVICE_UNAVAILABLE = 50300

    @property
    def http_status(self) -> int:
        return self.value // 100 if self.value else 200


DEFAULT_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.OK: "OK",  # the contract's success message, the same in every language
    ErrorCode.BAD_REQUEST: _("Bad request"),
    ErrorCode.LINK_INVALID: _("This link is invalid, expired or already used"),
    ErrorCode.NOT_AUTHENTICATED: _("Not authenticated"),
    ErrorCode.TOKEN_EXPIRED: _("Token expired"),
    ErrorCode.TOKEN_INVALID: _("Token invalid"),
    ErrorCode.SESSION_REVOKED: _("Session revoked"),
    ErrorCode.BAD_CREDENTIALS: _("Invalid username or password"),
    ErrorCode.CHALLENGE_INVALID: _("Login challenge invalid, expired or already used"),
    ErrorCode.TWO_FACTOR_REQUIRED: _("Second factor required"),
    ErrorCode.TWO_FACTOR_INVALID: _("Invalid two-factor code"),
    ErrorCode.CAPTCHA_REQUIRED: _("Captcha required"),
    ErrorCode.CAPTCHA_INVALID: _("Captcha answer wrong or expired"),
    ErrorCode.PASSWORD_CHANGE_REQUIRED: _("Your password expired: choose a new one"),
    ErrorCode.TWO_FACTOR_ENROLMENT_REQUIRED: _("Your role requires two-factor sign-in: set it up to continue"),
    ErrorCode.PERMISSION_DENIED: _("Permission denied"),
    ErrorCode.NOT_FOUND: _("Not found"),
    ErrorCode.METHOD_NOT_ALLOWED: _("Method not allowed"),
    ErrorCode.CONFLICT: _("Conflict"),
    ErrorCode.PAYLOAD_TOO_LARGE: _("Payload too large"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _("Unsupported media type"),
    ErrorCode.VALIDATION_ERROR: _("Validation error"),
    ErrorCode.RATE_LIMITED: _("Too many requests"),
    ErrorCode.INTERNAL_ERROR: _("Internal server error"),
    ErrorCode.SERVICE_UNAVAILABLE: _("Service unavailable"),
}

_BY_STATUS: dict[int, ErrorCode] = {}
for _code in ErrorCode:
    _BY_STATUS.setdefault(_code.http_status, _code)


def code_for_status(status: int) -> ErrorCode:
    """The generic business code of an HTTP status (e.g. 404 -> 40400)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST


class DomainError(Exception):
    """Base of every error a service may raise; carries its business code and a client-safe message."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(
        self, message: str | Promise | None = None, *, data: Any = None, headers: dict[str, str] | None = None
    ):
        self._message = message or DEFAULT_MESSAGES[self.code]
        self.data = data
        self.headers = headers or {}
        super().__init__(self._message)

    @property
    def message(self) -> str:
        """The message in the language active where it is read (the request's, when a response is built)."""
        return str(self._message)

    @message.setter
    def message(self, value: str | Promise) -> None:
        self._message = value

    @property
    def status(self) -> int:
        return self.code.http_status


class BadRequest(DomainError):
    code = ErrorCode.BAD_REQUEST


class LinkInvalid(DomainError):
    code = ErrorCode.LINK_INVALID


class NotAuthenticated(DomainError):
    code = ErrorCode.NOT_AUTHENTICATED


class TokenExpired(DomainError):
    code = ErrorCode.TOKEN_EXPIRED


class TokenInvalid(DomainError):
    code = ErrorCode.TOKEN_INVALID


class SessionRevoked(DomainError):
    code = ErrorCode.SESSION_REVOKED


class BadCredentials(DomainError):
    code = ErrorCode.BAD_CREDENTIALS


class ChallengeInvalid(DomainError):
    code = ErrorCode.CHALLENGE_INVALID


class TwoFactorRequired(DomainError):
    code = ErrorCode.TWO_FACTOR_REQUIRED


class TwoFactorInvalid(DomainError):
    code = ErrorCode.TWO_FACTOR_INVALID


class PasswordChangeRequired(DomainError):
    code = ErrorCode.PASSWORD_CHANGE_REQUIRED


class TwoFactorEnrolmentRequired(DomainError):
    code = ErrorCode.TWO_FACTOR_ENROLMENT_REQUIRED


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(DomainError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class ValidationFailed(DomainError):
    """A business-rule validation failure; `data` lists {"loc": [...], "msg": "..."} items."""

    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str | Promise | None = None, *, loc: list[str | int] | None = None, **kwargs: Any):
        if loc is not None and "data" not in kwargs:
            kwargs["data"] = [{"loc": loc, "msg": message or DEFAULT_MESSAGES[self.code]}]
        super().__init__(message, **kwargs)


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str | Promise | None = None, *, retry_after: int, **kwargs: Any):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(self.retry_after)}, **kwargs)


# Seconds a client is told to wait (Retry-After) when a dependency is unavailable.
SERVICE_RETRY_AFTER = 5


class ServiceUnavailable(DomainError):
    """50300, always with Retry-After: a client or proxy knows when to come back."""

    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, message: str | Promise | None = None, **kwargs: Any):
        kwargs["headers"] = {"Retry-After": str(SERVICE_RETRY_AFTER), **kwargs.get("headers", {})}
        super().__init__(message, **kwargs)
