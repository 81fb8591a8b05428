"""Unit tests of the /ws/ middleware's pure parts: token extraction (and scrubbing) and origin rules."""

from urllib.parse import urlparse

import pytest

from apps.realtime.middleware import OriginGuard, _extract_token, allowed_origins


def scope(query: bytes = b"", subprotocols: list[str] | None = None) -> dict:
    headers = [(b"host", b"example.com")]
    if subprotocols:
        headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
    return {"type": "websocket", "query_string": query, "subprotocols": subprotocols or [], "headers": headers}


def test_extract_token_from_the_query_and_scrub_it():
    s = scope(b"a=1&token=abc.def.ghi&b=2")
    assert _extract_token(s) == ("abc.def.ghi", None)
    assert s["query_string"] == b"a=1&b=2"
    assert b"abc.def.ghi" not in repr(s).encode()


def test_extract_token_from_the_bearer_subprotocol_and_scrub_it():
    s = scope(subprotocols=["bearer", "abc.def.ghi"])
    assert _extract_token(s) == ("abc.def.ghi", "bearer")
    assert s["subprotocols"] == ["bearer"]
    assert dict(s["headers"])[b"sec-websocket-protocol"] == b"bearer"
    assert "abc.def.ghi" not in repr(s)


def test_extract_token_prefers_the_subprotocol_and_still_scrubs_the_query():
    s = scope(b"token=from-query", subprotocols=["bearer", "from-protocol"])
    assert _extract_token(s) == ("from-protocol", "bearer")
    assert s["query_string"] == b""


@pytest.mark.parametrize(
    ("query", "subprotocols", "subprotocol"),
    [(b"", None, None), (b"token=", None, None), (b"", ["bearer"], "bearer"), (b"x=token", ["chat"], None)],
)
def test_extract_token_missing(query, subprotocols, subprotocol):
    assert _extract_token(scope(query, subprotocols)) == (None, subprotocol)


def test_origin_guard_lets_clients_without_origin_through():
    guard = OriginGuard(application=None, origins=["example.com"])
    assert guard.valid_origin(None)
    assert guard.valid_origin(urlparse("https://example.com"))
    assert guard.valid_origin(urlparse("http://example.com:8080"))
    assert not guard.valid_origin(urlparse("https://example.com.evil.test"))
    assert not guard.valid_origin(urlparse("null"))


def test_origin_guard_with_scheme_and_port_patterns():
    guard = OriginGuard(application=None, origins=["https://app.example.com", "http://.example.org:8000"])
    assert guard.valid_origin(urlparse("https://app.example.com"))
    assert not guard.valid_origin(urlparse("http://app.example.com"))
    assert guard.valid_origin(urlparse("http://sub.example.org:8000"))
    assert not guard.valid_origin(urlparse("http://sub.example.org"))


def test_allowed_origins_default_to_allowed_hosts(settings):
    settings.WS_ALLOWED_ORIGINS = []
    settings.ALLOWED_HOSTS = ["api.example.com"]
    assert allowed_origins() == ["api.example.com"]
    settings.WS_ALLOWED_ORIGINS = ["https://ui.example.com"]
    assert allowed_origins() == ["https://ui.example.com"]
    settings.WS_ALLOWED_ORIGINS = []
    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True
    assert "localhost" in allowed_origins()
    settings.DEBUG = False
    assert allowed_origins() == []


def test_failure_close_tells_unavailable_dependencies_from_bugs(caplog):
    from django.db import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    from apps.realtime.middleware import failure_close

    assert failure_close(RedisConnectionError("down"), "connect") == (4503, "service unavailable")
    assert failure_close(OperationalError("down"), "connect") == (4503, "service unavailable")
    assert failure_close(RuntimeError("bug"), "connect") == (4500, "internal error")
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]
