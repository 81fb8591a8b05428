"""The API's request parser: stricter than Ninja's default about what a JSON body and a query string may hold."""

import json
import math
import re
from typing import Any, NoReturn

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _
from ninja.errors import ValidationError
from ninja.parser import Parser

from apps.core.exceptions import UnsupportedMediaType

NUL = "\x00"
# A lone UTF-16 surrogate can only arrive as a \uD800-\uDFFF escape; raw UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
# Arrays and objects inside one another in a request body, the body itself included. The deepest schema here
# takes a handful of levels (a schedule's kwargs hold any JSON, still nothing near this); past Python's
# recursion limit (a 10 KB body can nest 5000 deep) json.loads, pydantic and every recursive walk of the body
# (audit redaction, logging) raise RecursionError.
MAX_BODY_DEPTH = 64


def is_json_media_type(content_type: str) -> bool:
    """application/json or application/<anything>+json, in UTF-8 (the only encoding JSON may travel in)."""
    media, params = parse_header_parameters(content_type)
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return False
    return params.get("charset", "utf-8").lower() in ("utf-8", "utf8")


def _refuse_constant(name: str) -> NoReturn:
    # json.loads accepts NaN/Infinity/-Infinity by default; they are not JSON and no column can store them.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # "1e400" would silently become inf: the same value the Infinity constant is refused for.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def nesting_depth(value: Any, *, limit: int) -> int:
    """How deep arrays and objects nest in a decoded JSON value (a scalar is 0), walked without recursion;
    the walk stops as soon as it passes `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def holds_lone_surrogate(raw: str | bytes, data: Any) -> bool:
    """Whether `data`, decoded from the JSON text `raw`, holds a lone UTF-16 surrogate.

    Paired escapes decode to one real character; a lone one is not text: no database, Redis key, channel
    layer or log can encode it (UTF-8 refuses it), so it would surface far from where it came in as a 500.
    """
    found = _SURROGATE_ESCAPE_BYTES.search(raw) if isinstance(raw, bytes) else _SURROGATE_ESCAPE.search(raw)
    if not found:  # the cheap test: almost no body has such an escape at all
        return False
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class StrictJSONParser(Parser):
    """A JSON body must be an object of finite values; query values must not hold NUL characters.

    Any exception from parse_body is turned by Ninja into a 400 ("Cannot parse request body"), which the
    exception handlers answer with the malformed-body envelope (40000), or with the code of the domain error
    it wraps (41500 for a body that is not JSON). Every operation of this API takes a
    JSON object (its body schema); a top-level array, scalar or null is never a valid payload. (Ninja also
    calls parse_body on each field of a multipart request with body parameters; no operation here has one.)
    """

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        # Only operations with a body schema get here, and only with a body: a form, a multipart upload (with
        # or without its boundary) or text/plain is not what they take. Ninja would read any of them as JSON.
        if not is_json_media_type(request.META.get("CONTENT_TYPE", "")):
            raise UnsupportedMediaType(_("Request bodies must be application/json"))
        data = json.loads(request.body, parse_constant=_refuse_constant, parse_float=_finite_float)
        if not isinstance(data, dict):
            raise ValueError("a request body must be a JSON object")
        if nesting_depth(data, limit=MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
            raise ValueError("a request body nests too deeply")
        if holds_lone_surrogate(request.body, data):
            raise ValueError("a request body must not hold lone UTF-16 surrogates")
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        # PostgreSQL refuses NUL in text (psycopg raises before the query runs, a 500 without this check):
        # answer it as the validation error it is, for every value, before any field reaches a lookup.
        source = "query" if data is request.GET else "form"
        for key, values in data.lists():
            if any(isinstance(value, str) and NUL in value for value in values):
                raise ValidationError([{"loc": [source, key], "msg": _("must not contain NUL characters")}])
        return super().parse_querydict(data, list_fields, request)
