"""Secrets out of stored bodies and query strings, and values made safe for BSON."""

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH = 32
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """`text` with lone UTF-16 surrogates replaced by U+FFFD.

    JSON escapes ("\\ud800") and surrogate-escaped paths put them in Python strings, but BSON (UTF-8) cannot
    encode them: one such string would make the whole insert fail.
    """
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def is_secret_key(key: str, secret_words: Iterable[str]) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in secret_words)


def redact(value: Any, secret_words: tuple[str, ...], _depth: int = 0) -> Any:
    """A copy of a JSON value where every object key containing a secret word has its value replaced.

    Integers outside BSON's int64 become strings (MongoDB cannot store them), lone surrogates in keys and
    strings become U+FFFD, and nesting deeper than MAX_DEPTH is cut off, so any JSON a client sends can be
    stored.
    """
    if _depth >= MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            scrub(str(key)): REDACTED
            if is_secret_key(str(key), secret_words)
            else redact(item, secret_words, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, secret_words, _depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        return str(value)
    return value


def redact_query(pairs: Iterable[tuple[str, list[str]]], secret_words: tuple[str, ...]) -> dict[str, Any]:
    """Query parameters as {name: value} (or {name: [values]} when repeated), secrets redacted."""
    result: dict[str, Any] = {}
    for key, values in pairs:
        if is_secret_key(key, secret_words):
            result[scrub(key)] = REDACTED
        else:
            result[scrub(key)] = scrub(values[0]) if len(values) == 1 else [scrub(value) for value in values]
    return result
