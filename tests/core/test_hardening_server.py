"""Oversized and malformed requests, in the application and over a real daphne socket.

The application answers what reaches it in the envelope. daphne (Twisted) itself refuses a request whose
header block passes 16 KiB and a multipart/form-data body it cannot parse before the application sees them:
a bare "400 Bad Request" and a closed connection (docs/hardening.md lists these limits). The tests below hold
both halves, so a change on either side shows.
"""

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from apps.accounts.tokens import MAX_TOKEN_LENGTH, encode_token
from tests.conftest import envelope_of
from tests.realtime.conftest import Server, database_url_of_test_db, start_daphne, stop_daphne

pytestmark = pytest.mark.django_db(transaction=True)

TWISTED_HEADER_BLOCK_LIMIT = 16384  # twisted.web.http.HTTPChannel.totalHeadersSize
BARE_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"


@pytest.fixture(scope="module")
def server(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("daphne-limits") / "daphne.log"
    running = start_daphne({"DATABASE_URL": database_url_of_test_db(), "LOG_LEVEL": "WARNING"}, log_path)
    yield running
    stop_daphne(running)


def _exchange(server: Server, request: bytes) -> bytes:
    """Send one raw request and read until the server closes; a reset after a refusal counts as what was read."""
    received = b""
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        try:
            conn.sendall(request)
            while chunk := conn.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return received


def _get(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _post(path: str, content_type: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _envelope(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


# --- in the application -----------------------------------------------------------------------------------


async def test_an_overlong_bearer_token_is_40102_before_it_is_parsed(client, monkeypatch):
    import jwt

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an overlong token reached the JWT parser")

    monkeypatch.setattr(jwt, "get_unverified_header", never)
    response = await client.get("/api/v1/auth/user/info", headers={"Authorization": "Bearer " + "a" * 100_000})
    assert (response.status_code, envelope_of(response)["code"]) == (401, 40102)
    assert response["X-Request-ID"]


def test_real_tokens_are_far_below_the_length_cap():
    token = encode_token(user_id="0190c8a2-0000-7000-8000-000000000000", session_id="s" * 32, typ="refresh")
    assert len(token) < MAX_TOKEN_LENGTH / 3


# --- over daphne ------------------------------------------------------------------------------------------


def test_a_long_authorization_header_below_the_server_limit_gets_the_envelope(server):
    raw = _exchange(server, _get("/api/v1/auth/user/info", {"Authorization": "Bearer " + "a" * 12_000}))
    status, headers, body = _envelope(raw)
    assert (status, body["code"]) == (401, 40102)
    assert headers["x-request-id"]


@pytest.mark.parametrize("size", [TWISTED_HEADER_BLOCK_LIMIT + 100, 100_000])
def test_a_header_block_past_daphnes_limit_is_refused_by_the_server_itself(server, size):
    raw = _exchange(server, _get("/api/v1/auth/user/info", {"Authorization": "Bearer " + "a" * size}))
    # Twisted writes a bare 400 and closes; the client may see only the reset if it was still sending.
    assert raw in (BARE_400, b""), raw[:200]
    health = _exchange(server, _get("/api/v1/health", {}))
    assert _envelope(health)[0] == 200  # the server itself is unharmed


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=abc"])
def test_an_unparsable_multipart_body_is_refused_by_the_server_itself(server, content_type):
    raw = _exchange(server, _post("/api/v1/auth/login", content_type, b'{"username": "a", "password": "b"}'))
    assert raw == BARE_400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "garbage"])
def test_other_media_types_reach_the_application_and_get_41500(server, content_type):
    raw = _exchange(server, _post("/api/v1/auth/login", content_type, b'{"username": "a", "password": "b"}'))
    status, headers, body = _envelope(raw)
    assert (status, body["code"]) == (415, 41500)
    assert headers["x-request-id"]
