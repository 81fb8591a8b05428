"""Bodies the API does not take: other media types (41500, documented on every body operation) and JSON nested
past any schema (40000), each answered in the envelope with X-Request-ID."""

import json
import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.core.parsers import MAX_BODY_DEPTH, is_json_media_type
from tests.conftest import envelope_of
from tests.core.test_hardening import _operations, _refers_to_error_envelope, _schema
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)

ECHO = "/api/v1/_test/echo"
BODY = json.dumps({"name": "x", "count": 1}).encode()
REFUSED = [
    "multipart/form-data",  # no boundary at all
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""',
    "multipart/form-data; boundary=abc",  # a boundary, but the body is not multipart
    "multipart/mixed",
    "application/x-www-form-urlencoded",
    "text/plain",
    "text/plain; charset=utf-8",
    "text/json",
    "application/xml",
    "application/jsonx",
    "application/json; charset=latin-1",
    "application/json; charset=bogus",
    "application/octet-stream",
    "garbage",
    ";;;",
    "",
]
ACCEPTED = ["application/json", "application/json; charset=UTF-8", "Application/JSON", "application/merge-patch+json"]


async def _post(
    client: Any, path: str, content_type: str, body: bytes = BODY, headers: dict[str, str] | None = None
) -> Any:
    return await client.generic("POST", path, data=body, content_type=content_type, headers=headers)


@pytest.mark.parametrize("content_type", REFUSED)
async def test_a_body_that_is_not_json_is_the_41500_envelope(client, content_type):
    response = await _post(client, ECHO, content_type, headers={"X-Request-ID": "media-1"})
    assert response.status_code == 415
    assert envelope_of(response) == {"code": 41500, "message": "Request bodies must be application/json", "data": None}
    assert response["X-Request-ID"] == "media-1"


@pytest.mark.parametrize("content_type", ACCEPTED)
async def test_json_media_types_are_taken(client, content_type):
    response = await _post(client, ECHO, content_type)
    assert response.status_code == 200
    assert envelope_of(response)["data"] == {"name": "x", "count": 1}


async def test_the_media_type_is_checked_before_the_password_is(client):
    # The login's body never reaches decryption or the throttle when it is not JSON.
    response = await _post(client, "/api/v1/auth/login", "multipart/form-data", b'{"username": "a", "password": "b"}')
    assert (response.status_code, envelope_of(response)["code"]) == (415, 41500)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain", "garbage"])
async def test_routes_without_a_body_ignore_the_media_type(client, content_type):
    # Nothing is parsed, so nothing is refused: the caller learns only what the route itself answers.
    logout = await _post(client, "/api/v1/auth/logout", content_type)
    assert (logout.status_code, envelope_of(logout)["code"]) == (401, 40100)
    missing = await _post(client, "/api/v1/no/such/route", content_type)
    assert (missing.status_code, envelope_of(missing)["code"]) == (404, 40400)
    assert missing["X-Request-ID"]


def test_is_json_media_type():
    assert all(is_json_media_type(value) for value in ACCEPTED)
    assert not any(is_json_media_type(value) for value in REFUSED)


def _path_of(template: str) -> str:
    # Any well-formed value: the body is refused before the path is looked up.
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000001", template)


async def test_every_body_operation_answers_and_documents_415(client, settings):
    schema = await _schema(client, settings)
    root = await sync_to_async(UserFactory.create)(username="media-root", is_superuser=True, is_staff=True)
    headers = await bearer_headers(root)
    checked = 0
    for method, path, operation in _operations(schema):
        documented = "415" in operation["responses"]
        if "requestBody" not in operation:
            assert not documented or path == "/api/v1/files/uploads", f"{method} {path}"
            continue
        assert documented and _refers_to_error_envelope(schema, operation["responses"]["415"], "UnsupportedMediaType")
        response = await client.generic(
            method.upper(), _path_of(path), data=b'{"a": 1}', content_type="text/plain", headers=headers
        )
        assert (response.status_code, envelope_of(response)["code"]) == (415, 41500), f"{method} {path}"
        checked += 1
    assert checked >= 12


def _nested(depth: int) -> bytes:
    """A body whose nesting depth (the object itself counted) is `depth`."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"name": "x", "count": 1, "extra": {inner}}}'.encode()


async def test_a_body_nested_5000_deep_is_the_malformed_body_envelope(client):
    malformed = await _post(client, ECHO, "application/json", b"{not json")
    response = await _post(client, ECHO, "application/json", _nested(5000))
    assert response.status_code == 400
    assert envelope_of(response) == envelope_of(malformed)
    assert response["X-Request-ID"]


async def test_the_body_depth_limit_is_exact(client):
    assert (await _post(client, ECHO, "application/json", _nested(MAX_BODY_DEPTH))).status_code == 200
    refused = await _post(client, ECHO, "application/json", _nested(MAX_BODY_DEPTH + 1))
    assert (refused.status_code, envelope_of(refused)["code"]) == (400, 40000)
