"""Exception handlers: every error leaving the API is an envelope with its business code."""

import logging
from collections.abc import Callable
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pymongo import errors as pymongo_errors
from redis import exceptions as redis_errors

from apps.core.envelope import error_body
from apps.core.exceptions import SERVICE_RETRY_AFTER, DomainError, ErrorCode, code_for_status

logger = logging.getLogger("apps.core.errors")

# A database, Redis or MongoDB that cannot be reached is a 503 (50300), not a bug (50000).
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    db.OperationalError,
    db.InterfaceError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    pymongo_errors.ConnectionFailure,
)


def _respond(
    api: NinjaAPI,
    request: HttpRequest,
    code: ErrorCode,
    message: str | Promise | None = None,
    data: Any = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(request, error_body(code, message, data), status=status or code.http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _validation_items(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Our own messages stay lazy until the body is rendered; pydantic's are plain English text.
    return [{"loc": list(e.get("loc", [])), "msg": _msg(e.get("msg", "invalid"))} for e in errors]


def _msg(value: Any) -> str | Promise:
    return value if isinstance(value, Promise) else str(value)


def install_exception_handlers(api: NinjaAPI) -> None:
    def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return _respond(api, request, exc.code, exc.message, exc.data, headers=exc.headers)

    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return _respond(api, request, ErrorCode.VALIDATION_ERROR, data=_validation_items(exc.errors))

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _respond(api, request, ErrorCode.NOT_AUTHENTICATED)

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, DomainError):  # raised by the body parser (41500); Ninja wraps it in a 400
            return on_domain_error(request, exc.__cause__)
        code = code_for_status(exc.status_code)
        message: str | Promise = str(exc)
        if str(message).startswith("Cannot parse request body"):
            message = _("Malformed request body: expected a JSON object")  # never echo parser internals
        return _respond(api, request, code, message, status=exc.status_code)

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _respond(api, request, ErrorCode.NOT_FOUND)

    def on_forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
        return _respond(api, request, ErrorCode.PERMISSION_DENIED)

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return _respond(api, request, ErrorCode.PAYLOAD_TOO_LARGE)

    def on_dependency_down(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.warning(
            "dependency unavailable",
            extra={"request_id": getattr(request, "request_id", None), "error_type": type(exc).__name__},
        )
        return _respond(api, request, ErrorCode.SERVICE_UNAVAILABLE, headers={"Retry-After": str(SERVICE_RETRY_AFTER)})

    def on_data_error(request: HttpRequest, exc: db.DataError) -> HttpResponse:
        # A value the database refuses (integer out of range, NUL in text, ...) is the client's fault, not a
        # bug; only DataError lands here (IntegrityError, ProgrammingError, ... stay 50000). The exception
        # text may echo the value: neither the answer nor the log carries it, the SQLSTATE is enough.
        logger.warning(
            "database refused a value",
            extra={
                "request_id": getattr(request, "request_id", None),
                "path": request.path,
                "error_type": type(exc.__cause__ or exc).__name__,
                "sqlstate": getattr(exc.__cause__, "sqlstate", None),
            },
        )
        return _respond(api, request, ErrorCode.BAD_REQUEST, _("Bad request: a value is out of range or not storable"))

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception(
            "unhandled error",
            extra={"request_id": getattr(request, "request_id", None), "path": request.path},
        )
        return _respond(api, request, ErrorCode.INTERNAL_ERROR)

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (Exception, on_unexpected),
        (DomainError, on_domain_error),
        (ValidationError, on_validation_error),
        (AuthenticationError, on_authentication_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (DjangoPermissionDenied, on_forbidden),
        (RequestDataTooBig, on_too_big),
        (db.DataError, on_data_error),
        *((exc_class, on_dependency_down) for exc_class in DEPENDENCY_ERRORS),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
