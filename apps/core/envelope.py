"""The uniform response envelope {"code", "message", "data"}: renderer, error bodies and OpenAPI wrapping."""

import copy
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from apps.core.exceptions import DEFAULT_MESSAGES, ErrorCode, code_for_status

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
NO_ENVELOPE = "x-no-envelope"  # openapi_extra flag of the few routes that answer a bare document
ALSO_ANSWERS = "x-also-answers"  # openapi_extra list of the error statuses only some operations can answer


def also_answers(*statuses: int) -> dict[str, Any]:
    """openapi_extra of an operation that can answer these error statuses too (409, 415, 404 without a path id)."""
    unknown = {str(status) for status in statuses} - _OPERATION_ERROR_RESPONSES.keys()
    if unknown:
        raise ValueError(f"no documented error response for {sorted(unknown)}")
    return {ALSO_ANSWERS: sorted(str(status) for status in statuses)}


class Enveloped(dict[str, Any]):
    """A body that already is an envelope (errors); the renderer passes it through untouched."""


def envelope(code: int, message: str | Promise, data: Any = None) -> Enveloped:
    """A lazy message is rendered with the body, in the language active then (the request's)."""
    return Enveloped(code=int(code), message=message, data=data)


def error_body(code: ErrorCode, message: str | Promise | None = None, data: Any = None) -> Enveloped:
    return envelope(code, message or DEFAULT_MESSAGES[code], data)


def json_error_response(
    status: int, code: ErrorCode | None = None, message: str | Promise | None = None, data: Any = None
) -> HttpResponse:
    """An envelope response built outside Ninja (middleware, catch-all views)."""
    body = error_body(code or code_for_status(status), message, data)
    return HttpResponse(json.dumps(body, cls=NinjaJSONEncoder), status=status, content_type=JSON_CONTENT_TYPE)


def render_body(data: Any) -> str:
    """The body of an API answer: an envelope as it is, anything else as the data of a success envelope."""
    body = data if isinstance(data, Enveloped) else {"code": 0, "message": "OK", "data": data}
    return json.dumps(body, cls=NinjaJSONEncoder)


def prerendered(body: str | bytes) -> HttpResponse:
    """A 200 answer whose envelope was rendered (and its data validated) earlier: Ninja passes an HttpResponse
    through without validating and rendering it again."""
    return HttpResponse(body, content_type=JSON_CONTENT_TYPE)


class EnvelopeRenderer(JSONRenderer):
    """Wraps every successful payload as {"code": 0, "message": "OK", "data": payload}."""

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return render_body(data)


# --- OpenAPI --------------------------------------------------------------------------------------------

_ERROR_RESPONSES = {
    "401": ("Unauthorized", "Not authenticated, token expired/invalid or session revoked (401xx)."),
    "403": ("Forbidden", "Permission denied (40300)."),
    "422": ("ValidationFailed", "Validation error (42200); data lists {loc, msg} items."),
    "429": ("RateLimited", "Rate limited (42900); see the Retry-After header."),
    "500": ("InternalError", "Internal error (50000); no details are disclosed."),
    "503": ("ServiceUnavailable", "A dependency is unavailable (50300); see the Retry-After header."),
}
# Documented only where they can happen: a body can be malformed or too large, a path names a resource.
_BODY_ERROR_RESPONSES = {
    "400": ("BadRequest", "Bad request (40000), e.g. a body that is not a JSON object."),
    "413": ("PayloadTooLarge", "Payload too large (41300)."),
    "415": ("UnsupportedMediaType", "Unsupported media type (41500), e.g. a body that is not application/json."),
}
_PATH_ERROR_RESPONSES = {
    "404": ("NotFound", "Not found (40400)."),
}
# Documented on the operations that declare them with also_answers().
_OPERATION_ERROR_RESPONSES = {
    **_PATH_ERROR_RESPONSES,
    "409": ("Conflict", "Conflict (40900): a duplicate, a guard rail or a state that does not allow it."),
    "415": ("UnsupportedMediaType", "Unsupported media type (41500)."),
}


def _envelope_schema(data_schema: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["code", "message", "data"],
        "properties": {
            "code": {"type": "integer", "description": "0 on success, else HTTP_STATUS * 100 + n"},
            "message": {"type": "string"},
            "data": data_schema,
        },
    }
    if title:
        schema["title"] = title
    return schema


def wrap_openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Document the envelope around every operation's payload and the error responses once, globally."""
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ErrorItem"] = {
        "type": "object",
        "properties": {"loc": {"type": "array", "items": {}}, "msg": {"type": "string"}},
        "required": ["loc", "msg"],
    }
    schemas["ErrorEnvelope"] = _envelope_schema({"nullable": True}, "ErrorEnvelope")
    schemas["ValidationErrorEnvelope"] = _envelope_schema(
        {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}}, "ValidationErrorEnvelope"
    )
    responses = components.setdefault("responses", {})
    every_error = {**_ERROR_RESPONSES, **_BODY_ERROR_RESPONSES, **_OPERATION_ERROR_RESPONSES}
    for _status, (name, description) in every_error.items():
        ref = "ValidationErrorEnvelope" if name == "ValidationFailed" else "ErrorEnvelope"
        responses[name] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # Ninja keys responses by int status: make them the strings below, so a route's own (e.g.
            # /health/ready's 503) is found and kept instead of being shadowed by a duplicate "503" key.
            operation["responses"] = {str(status): response for status, response in operation["responses"].items()}
            # A bare document (JWKS) is not wrapped, but its errors are envelopes like everyone else's.
            if not operation.pop(NO_ENVELOPE, False):
                for status, response in operation["responses"].items():
                    content = response.get("content", {}).get("application/json")
                    if content is not None and "schema" in content:
                        content["schema"] = _envelope_schema(content["schema"])
                    elif status.startswith("2"):
                        response["content"] = {"application/json": {"schema": _envelope_schema({"nullable": True})}}
            errors = dict(_ERROR_RESPONSES)
            if "requestBody" in operation:
                errors.update(_BODY_ERROR_RESPONSES)
            parameters = [*path_item.get("parameters", []), *operation.get("parameters", [])]
            if any(isinstance(p, dict) and p.get("in") == "path" for p in parameters):
                errors.update(_PATH_ERROR_RESPONSES)
            errors.update({status: _OPERATION_ERROR_RESPONSES[status] for status in operation.pop(ALSO_ANSWERS, [])})
            for status, (name, _description) in sorted(errors.items()):
                # setdefault: a route that documents its own error body (e.g. /health/ready's 503) keeps it.
                operation["responses"].setdefault(status, {"$ref": f"#/components/responses/{name}"})
    return schema
