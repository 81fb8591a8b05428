"""Values the schema does not admit are refused with 42200, never coerced: 0 for a JSON boolean, a Unix timestamp
for a date-time filter (pydantic's lax mode would take both). Fields and filters come from the OpenAPI document,
so a new body boolean or date-time filter is covered."""

import json
import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.core.schemas import iso_only
from tests.conftest import envelope_of
from tests.core.test_hardening import _schema
from tests.core.test_patch_nulls import _objects, _resolve
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


def _body_booleans(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for path, item in schema["paths"].items():
        for method in ("post", "put", "patch"):
            content = item.get(method, {}).get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = _resolve(schema, content["application/json"]["schema"])
            for name, prop in body.get("properties", {}).items():
                kinds = [prop.get("type")] + [option.get("type") for option in prop.get("anyOf", [])]
                if "boolean" in kinds:
                    found.append((method, path, name))
    return found


def _datetime_filters(schema: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, item in schema["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            prop = parameter.get("schema", {})
            formats = [prop.get("format")] + [option.get("format") for option in prop.get("anyOf", [])]
            if parameter["in"] == "query" and "date-time" in formats:
                found.append((path, parameter["name"]))
    return found


@pytest.mark.parametrize("value", [0, 1.5, "0.5", " 1e9 ", "-3", ".5"])
def test_timestamps_are_refused_for_date_times(value):
    with pytest.raises(ValueError, match="ISO 8601"):
        iso_only(value)


@pytest.mark.parametrize("value", ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00+08:00", "yesterday"])
def test_strings_that_are_no_number_go_on_to_the_date_time_parser(value):
    assert iso_only(value) == value


async def test_every_body_boolean_refuses_a_number(client, settings):
    schema = await _schema(client, settings)
    fields = _body_booleans(schema)
    assert len(fields) >= 10
    objects = await sync_to_async(_objects)()
    objects["/api/v1/roles/{role_id}/two-factor"] = objects["/api/v1/roles/{role_id}"]
    admin = await sync_to_async(UserFactory.create)(username="strict-admin", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)
    for method, template, name in fields:
        url = re.sub(r"\{\w+\}", objects[template], template) if "{" in template else template
        send = getattr(client, method)
        response = await send(url, data=json.dumps({name: 0}), content_type="application/json", headers=headers)
        assert response.status_code == 422, (method, template, name, response.content)
        body = envelope_of(response)
        assert body["code"] == 42200
        assert any(item["loc"][-1] == name for item in body["data"]), (template, body)


async def test_every_date_time_filter_refuses_a_timestamp(client, settings):
    schema = await _schema(client, settings)
    filters = _datetime_filters(schema)
    assert len(filters) >= 4
    admin = await sync_to_async(UserFactory.create)(username="strict-admin2", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)
    for path, name in filters:
        response = await client.get(path, {name: "0.5"}, headers=headers)
        assert response.status_code == 422, (path, name, response.content)
        assert envelope_of(response)["code"] == 42200
        ok = await client.get(path, {name: "2026-01-31T12:00:00Z"}, headers=headers)
        assert ok.status_code == 200, (path, name, ok.content)


async def test_two_factor_codes_outside_their_alphabet_are_42200_not_a_lookup(client):
    user = await sync_to_async(UserFactory.create)(username="strict-2fa")
    headers = await bearer_headers(user)
    for path in ("/api/v1/auth/2fa/confirm", "/api/v1/auth/2fa/disable", "/api/v1/auth/2fa/backup-codes"):
        body = json.dumps({"code": "\u00fe\u00c4\u00c3\u00dc\u00a8w\u00b0\u0015\u00b7k"})
        response = await client.post(path, data=body, content_type="application/json", headers=headers)
        assert response.status_code == 422, (path, response.content)
        assert envelope_of(response)["code"] == 42200


async def test_organisation_order_must_be_an_integer_not_a_float(client):
    admin = await sync_to_async(UserFactory.create)(username="strict-org", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)
    body = json.dumps({"name": "p", "code": "p", "order": 0.0})
    response = await client.post("/api/v1/posts", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 422 and envelope_of(response)["code"] == 42200
