"""The API's request parser: stricter than Ninja's default about what a JSON body and a query string may hold."""

import json
import math
import re
from typing import Any, NoReturn

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from ninja.errors import ValidationError
from ninja.parser import Parser

NUL = "\x00"
# A lone UTF-16 surrogate can only arrive as a \uD800-\uDFFF escape; raw UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())


def _refuse_constant(name: str) -> NoReturn:
    # json.loads accepts NaN/Infinity/-Infinity by default; they are not JSON and no column can store them.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # "1e400" would silently become inf: the same value the Infinity constant is refused for.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


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
    exception handlers answer with the malformed-body envelope (40000). Every operation of this API takes a
    JSON object (its body schema); a top-level array, scalar or null is never a valid payload. (Ninja also
    calls parse_body on each field of a multipart request with body parameters; no operation here has one.)
    """

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body, parse_constant=_refuse_constant, parse_float=_finite_float)
        if not isinstance(data, dict):
            raise ValueError("a request body must be a JSON object")
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
