"""Structured JSON logs with the request id, and a filter that keeps secrets out of every line."""

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from apps.core.context import request_id_var

_SECRET_PAIR = re.compile(r"(?i)\b([\w-]*(?:token|password|secret|api[_-]?key)[\w-]*)(=|\"?\s*:\s*\"?)([^&\s\"',;]+)")
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED]", text)
    return _BEARER.sub("Bearer [REDACTED]", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message so `token=...`, `password: ...` and bearer tokens never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is not ours to fix here
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key in ("path", "query", "url"):
            value = record.__dict__.get(key)
            if isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        request_id = record.__dict__.get("request_id") or request_id_var.get()
        if request_id:
            log_record["request_id"] = request_id
