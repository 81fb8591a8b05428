"""null in any field of any PATCH body is a clear 42200 naming the field (omitting a field keeps it): never a 500.

The operations and their fields come from the OpenAPI document, so a new PATCH route or field is covered."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.accounts.models import Role
from apps.org.services import department_create_sync, post_write_sync
from tests.conftest import envelope_of
from tests.core.test_hardening import _schema
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


# PATCH fields whose null has a documented meaning (docs/organisation.md): a department made a root, no leader.
NULL_MEANS_SOMETHING = {
    ("/api/v1/departments/{department_id}", "parent"),
    ("/api/v1/departments/{department_id}", "leader"),
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _patch_fields(schema: dict[str, Any]) -> list[tuple[str, str]]:
    fields = []
    for path, item in schema["paths"].items():
        operation = item.get("patch")
        if operation is None:
            continue
        body = _resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
        fields += [(path, name) for name in body["properties"]]
    return fields


def _objects() -> dict[str, str]:
    role = Role.objects.create(name="patch-nulls")
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="patch-nulls", task="scheduler.ping", interval=every)
    user = UserFactory.create(username="patch-nulls-target")
    department = department_create_sync(data={"name": "patch-nulls", "code": "patch-nulls"})
    post = post_write_sync(post_id=None, data={"name": "patch-nulls", "code": "patch-nulls"})
    return {
        "/api/v1/departments/{department_id}": str(department),
        "/api/v1/posts/{post_id}": str(post),
        "/api/v1/roles/{role_id}": str(role.pk),
        "/api/v1/users/{user_id}": str(user.pk),
        "/api/v1/schedules/{schedule_id}": str(task.pk),
    }


async def test_every_patch_field_refuses_null_with_42200(client, settings):
    schema = await _schema(client, settings)
    fields = _patch_fields(schema)
    objects = await sync_to_async(_objects)()
    assert {path for path, _ in fields} == set(objects), "a new PATCH route: give it an object above"
    assert len(fields) >= 15
    admin = await sync_to_async(UserFactory.create)(username="patch-nulls-admin", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)
    for template, name in fields:
        url = template.split("{")[0] + objects[template]
        response = await client.patch(
            url, data=json.dumps({name: None}), content_type="application/json", headers=headers
        )
        if (template, name) in NULL_MEANS_SOMETHING:
            assert response.status_code == 200, (template, name, response.content)
            assert envelope_of(response)["data"][name] is None
            continue
        assert response.status_code == 422, (template, name, response.content)
        body = envelope_of(response)
        assert body["code"] == 42200
        assert any(item["loc"][-1] == name and "null" in item["msg"] for item in body["data"]), (template, body)


async def test_roles_null_among_valid_fields_changes_nothing(client, settings):
    objects = await sync_to_async(_objects)()
    admin = await sync_to_async(UserFactory.create)(username="patch-nulls-admin2", is_superuser=True, is_staff=True)
    headers = await bearer_headers(admin)
    url = "/api/v1/users/" + objects["/api/v1/users/{user_id}"]
    body = json.dumps({"full_name": "Changed", "roles": None})
    response = await client.patch(url, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 422
    unchanged = await client.get(url, headers=headers)
    assert envelope_of(unchanged)["data"]["full_name"] != "Changed"
