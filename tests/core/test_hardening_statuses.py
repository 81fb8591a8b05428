"""Every status an operation answers to the usual bad requests is one its OpenAPI entry documents.

For each operation of the published document: anonymous, signed in without roles, and as a superuser with
ids that exist nowhere, with an empty, a malformed and a non-JSON body. A schema-driven client or fuzzer
sending the same finds no undocumented status.
"""

import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import envelope_of
from tests.core.test_hardening import _operations, _schema
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_UUID = "00000000-0000-7000-8000-000000000000"


def _path_of(schema: dict[str, Any], path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter set to a well-formed value that names nothing."""
    types = {
        p["name"]: p.get("schema", {}).get("type", "string")
        for p in operation.get("parameters", [])
        if p.get("in") == "path"
    }
    return re.sub(r"\{([^}]+)\}", lambda m: "999999999" if types.get(m.group(1)) == "integer" else MISSING_UUID, path)


async def _call(client: Any, method: str, url: str, headers: dict[str, str], body: bytes | None, content_type: str):
    if body is None:
        return await client.generic(method.upper(), url, headers=headers)
    return await client.generic(method.upper(), url, data=body, content_type=content_type, headers=headers)


async def test_statuses_of_the_usual_bad_requests_are_documented(client, settings):
    settings.DEBUG = False  # the DEBUG-only login answers its documented 404
    schema = await _schema(client, settings)
    root = await sync_to_async(UserFactory.create)(username="statuses-root", is_superuser=True, is_staff=True)
    nobody = await sync_to_async(UserFactory.create)(username="statuses-nobody")
    undocumented: list[str] = []
    seen: set[str] = set()
    for method, path, operation in _operations(schema):
        if path.endswith(("/auth/logout", "/auth/logout/all")):
            continue  # they end the caller's own session: answered 200 or the global 401s, nothing else
        url = _path_of(schema, path, operation)
        takes_body = "requestBody" in operation
        bodies: list[tuple[bytes | None, str]] = [(None, "")]
        if takes_body:
            bodies += [(b"{}", "application/json"), (b"{not json", "application/json"), (b"{}", "text/plain")]
        callers = [{}, await bearer_headers(nobody), await bearer_headers(root)]
        for headers in callers:
            for body, content_type in bodies:
                response = await _call(client, method, url, headers, body, content_type)
                status = str(response.status_code)
                seen.add(status)
                if status not in operation["responses"]:
                    undocumented.append(f"{method.upper()} {path} -> {status} {envelope_of(response)}")
    assert not undocumented, "\n".join(undocumented)
    assert {"400", "401", "403", "404", "415", "422"} <= seen  # the cases above really happened
