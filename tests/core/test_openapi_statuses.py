"""Every status an operation can answer is in the OpenAPI document (a schema-driven client or fuzzer finds no
undocumented one): conflicts (409), refused media types (415) and the DEBUG-only route's 404."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.core.envelope import also_answers
from tests.conftest import envelope_of
from tests.core.test_hardening import _operations, _refers_to_error_envelope, _schema
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)

CONFLICTING = {
    ("post", "/api/v1/roles"),
    ("put", "/api/v1/roles/{role_id}"),
    ("patch", "/api/v1/roles/{role_id}"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{user_id}"),
    ("delete", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/schedules"),
    ("patch", "/api/v1/schedules/{schedule_id}"),
    ("post", "/api/v1/files/{file_id}/complete"),
    ("delete", "/api/v1/files/{file_id}/upload"),
    ("get", "/api/v1/files/{file_id}/download"),
    ("post", "/api/v1/invitations"),
    ("delete", "/api/v1/invitations/{invitation_id}"),
    ("post", "/api/v1/auth/invitations/accept"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/departments"),
    ("patch", "/api/v1/departments/{department_id}"),
    ("delete", "/api/v1/departments/{department_id}"),
    ("post", "/api/v1/posts"),
    ("patch", "/api/v1/posts/{post_id}"),
    ("post", "/api/v1/auth/login/2fa/enrol"),
    ("post", "/api/v1/auth/login/2fa/enrol/confirm"),
    ("post", "/api/v1/mail/sends/{mail_id}/resend"),
}


async def test_openapi_documents_409_exactly_where_a_conflict_can_happen(client, settings):
    schema = await _schema(client, settings)
    for method, path, operation in _operations(schema):
        documented = "409" in operation["responses"]
        assert documented == ((method, path) in CONFLICTING), f"{method} {path}"
        if documented:
            assert _refers_to_error_envelope(schema, operation["responses"]["409"], "Conflict")


async def test_openapi_documents_415_on_upload_init_and_404_on_the_debug_only_login(client, settings):
    schema = await _schema(client, settings)
    uploads = schema["paths"]["/api/v1/files/uploads"]["post"]["responses"]
    assert _refers_to_error_envelope(schema, uploads["415"], "UnsupportedMediaType")
    plain = schema["paths"]["/api/v1/auth/login/plain"]["post"]["responses"]
    assert _refers_to_error_envelope(schema, plain["404"], "NotFound")
    # The marker is consumed: it never leaks into the published document.
    assert all("x-also-answers" not in operation for _, _, operation in _operations(schema))


def _documented(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


async def test_answered_statuses_are_documented(client, settings):
    schema = await _schema(client, settings)
    admin = await sync_to_async(UserFactory.create)(username="statuses-admin", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)

    body = json.dumps({"name": "twice", "permissions": []})
    first = await client.post("/api/v1/roles", data=body, content_type="application/json", headers=headers)
    assert first.status_code == 201
    again = await client.post("/api/v1/roles", data=body, content_type="application/json", headers=headers)
    assert (again.status_code, envelope_of(again)["code"]) == (409, 40900)
    assert "409" in _documented(schema, "post", "/api/v1/roles")

    itself = await client.delete(f"/api/v1/users/{admin.pk}", headers=headers)
    assert (itself.status_code, envelope_of(itself)["code"]) == (409, 40900)
    assert "409" in _documented(schema, "delete", "/api/v1/users/{user_id}")

    upload = json.dumps({"filename": "a.exe", "size": 10, "content_type": "application/x-msdownload"})
    refused = await client.post("/api/v1/files/uploads", data=upload, content_type="application/json", headers=headers)
    assert (refused.status_code, envelope_of(refused)["code"]) == (415, 41500)
    assert "415" in _documented(schema, "post", "/api/v1/files/uploads")

    settings.DEBUG = False
    plain = json.dumps({"username": "statuses-admin", "password": "whatever"})
    hidden = await client.post("/api/v1/auth/login/plain", data=plain, content_type="application/json")
    assert (hidden.status_code, envelope_of(hidden)["code"]) == (404, 40400)
    assert "404" in _documented(schema, "post", "/api/v1/auth/login/plain")


def test_also_answers_refuses_a_status_without_a_documented_body():
    assert also_answers(409, 415) == {"x-also-answers": ["409", "415"]}
    with pytest.raises(ValueError, match="418"):
        also_answers(418)
