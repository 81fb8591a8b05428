import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.audit.documents import COLLECTIONS
from apps.audit.records import new_record_id
from tests.audit.conftest import amake_user
from tests.conftest import envelope_of
from tests.helpers import bearer_headers, grant

# Recent enough that the retention TTL monitor never removes the seeded documents during a run.
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)


def at(minutes: int, *, offset_hours: int | None = 0) -> str:
    """T0 + minutes as ISO-8601: with "Z", with another offset, or (offset_hours=None) with none."""
    moment = T0 + timedelta(minutes=minutes)
    if offset_hours is None:
        return moment.replace(tzinfo=None).isoformat()
    if offset_hours == 0:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


ALICE, BOB = str(uuid.uuid4()), str(uuid.uuid4())


def _operation(minutes: int, **fields):
    doc = {
        "_id": new_record_id(),
        "request_id": f"req-{minutes}",
        "user_id": ALICE,
        "username": "alice",
        "method": "POST",
        "path": "/api/v1/roles",
        "route": "/api/v1/roles",
        "status": 201,
        "duration_ms": 3.2,
        "ip": "10.0.0.1",
        "user_agent": "pytest",
        "browser": "Other",
        "os": "Other",
        "device": "Other",
        "query": {},
        "body": {"name": "r"},
        "body_size": 12,
        "created_at": T0 + timedelta(minutes=minutes),
    }
    doc.update(fields)
    return doc


def _login(minutes: int, **fields):
    doc = {
        "_id": new_record_id(),
        "request_id": f"req-{minutes}",
        "username": "alice",
        "user_id": ALICE,
        "success": True,
        "reason": "ok",
        "ip": "10.0.0.1",
        "user_agent": "pytest",
        "browser": "Other",
        "os": "Other",
        "device": "Other",
        "created_at": T0 + timedelta(minutes=minutes),
    }
    doc.update(fields)
    return doc


@pytest.fixture
def seeded(audit_db):
    operations = [
        _operation(0),
        _operation(1, method="DELETE", path="/api/v1/roles/7", route="/api/v1/roles/{role_id}", status=204),
        _operation(2, user_id=BOB, username="bob", path="/api/v1/Users/9", status=403),
        _operation(3, user_id=BOB, username="bob", method="PATCH", path="/api/v1/users/(9)", status=422),
        _operation(4, user_id=None, username=None, method="GET", path="/api/v1/nope", status=404),
    ]
    logins = [
        _login(0),
        _login(1, success=False, reason="bad_credentials", user_id=None, ip="203.0.113.5"),
        _login(2, username="bob", user_id=BOB, ip="203.0.113.5"),
        _login(3, username="mallory", user_id=None, success=False, reason="throttled", ip="198.51.100.9"),
    ]
    audit_db[COLLECTIONS["operation"]].insert_many(operations)
    audit_db[COLLECTIONS["login"]].insert_many(logins)
    return {"operations": operations, "logins": logins}


@pytest.fixture
async def root_headers():
    root = await amake_user(username="auditroot", is_superuser=True, is_staff=True)
    return await bearer_headers(root)


async def _list(client, resource, headers, **params):
    response = await client.get(f"/api/v1/audit/{resource}", params, headers=headers)
    assert response.status_code == 200, response.content
    return envelope_of(response)["data"]


def _ids(data):
    return [item["request_id"] for item in data["items"]]


@pytest.mark.django_db(transaction=True)
async def test_audit_lists_require_their_permission(client, seeded):
    assert (await client.get("/api/v1/audit/operations")).status_code == 401
    user = await amake_user(username="reader")
    headers = await bearer_headers(user)
    response = await client.get("/api/v1/audit/operations", headers=headers)
    assert response.status_code == 403 and envelope_of(response)["code"] == 40300
    await grant(user, "GET:/api/v1/audit/operations")
    assert (await client.get("/api/v1/audit/operations", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/audit/logins", headers=headers)).status_code == 403
    await grant(user, "GET:/api/v1/audit/logins")
    assert (await client.get("/api/v1/audit/logins", headers=headers)).status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_operation_list_shape_and_newest_first_order(client, seeded, root_headers):
    data = await _list(client, "operations", root_headers)
    assert data["total"] == 5 and data["page"] == 1 and data["page_size"] == 20
    assert _ids(data) == ["req-4", "req-3", "req-2", "req-1", "req-0"]
    item = data["items"][-1]
    assert set(item) >= {
        "id",
        "request_id",
        "user_id",
        "username",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "ip",
        "user_agent",
        "browser",
        "os",
        "device",
        "query",
        "body",
        "created_at",
    }
    assert item["body"] == {"name": "r"} and item["user_id"] == ALICE
    assert datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")) == T0
    assert item["id"] == seeded["operations"][0]["_id"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user_id": BOB}, ["req-3", "req-2"]),
        ({"username": "BO"}, ["req-3", "req-2"]),
        ({"method": "delete"}, ["req-1"]),
        ({"path": "users"}, ["req-3", "req-2"]),  # substring, case-insensitive
        ({"path": "(9)"}, ["req-3"]),  # regex characters are taken literally
        ({"path": "/api/v1/roles"}, ["req-1", "req-0"]),
        ({"status": 404}, ["req-4"]),
        ({"since": at(2)}, ["req-4", "req-3", "req-2"]),
        ({"until": at(2)}, ["req-1", "req-0"]),
        ({"since": at(1, offset_hours=1), "until": at(3, offset_hours=None)}, ["req-2", "req-1"]),
        ({"user_id": BOB, "status": 422}, ["req-3"]),
    ],
)
async def test_operation_filters(client, seeded, root_headers, params, expected):
    data = await _list(client, "operations", root_headers, **params)
    assert _ids(data) == expected
    assert data["total"] == len(expected)


@pytest.mark.django_db(transaction=True)
async def test_operation_pagination_with_skip_and_limit(client, seeded, root_headers):
    second = await _list(client, "operations", root_headers, page=2, page_size=2)
    assert _ids(second) == ["req-2", "req-1"]
    assert (second["total"], second["page"], second["page_size"]) == (5, 2, 2)
    last = await _list(client, "operations", root_headers, page=3, page_size=2)
    assert _ids(last) == ["req-0"]
    beyond = await _list(client, "operations", root_headers, page=9, page_size=2)
    assert beyond["items"] == [] and beyond["total"] == 5
    capped = await _list(client, "operations", root_headers, page_size=1000)
    assert capped["page_size"] == 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("operations", {"status": "abc"}),
        ("operations", {"user_id": "not-a-uuid"}),
        ("operations", {"since": "yesterday"}),
        ("operations", {"page": 0}),
        # Valid ISO-8601 whose conversion to UTC overflows datetime's range.
        ("operations", {"since": "0001-01-01T00:00:00+05:00"}),
        ("operations", {"until": "9999-12-31T23:00:00-05:00"}),
        ("operations", {"username": "u" * 201}),
        ("operations", {"path": "/" * 201}),
        ("operations", {"method": "M" * 17}),
        ("logins", {"since": "0001-01-01T00:00:00+00:01"}),
        ("logins", {"until": "9999-12-31T23:59:59-00:01"}),
        ("logins", {"username": "u" * 201}),
        ("logins", {"ip": "1" * 65}),
    ],
)
async def test_filters_are_validated(client, seeded, root_headers, kind, params):
    response = await client.get(f"/api/v1/audit/{kind}", params, headers=root_headers)
    assert response.status_code == 422
    body = envelope_of(response)
    assert body["code"] == 42200
    assert [item["loc"][-1] for item in body["data"]] == list(params)


@pytest.mark.django_db(transaction=True)
async def test_filters_at_their_limits_are_accepted(client, seeded, root_headers):
    extremes = {"since": "0001-01-01T00:00:00-05:00", "until": "9999-12-31T23:00:00+05:00"}
    data = await _list(client, "operations", root_headers, username="u" * 200, method="M" * 16, **extremes)
    assert data["items"] == []
    data = await _list(client, "operations", root_headers, path="/" * 200, **extremes)
    assert data["items"] == []
    assert _ids(await _list(client, "logins", root_headers, **extremes)) == ["req-3", "req-2", "req-1", "req-0"]
    assert (await _list(client, "logins", root_headers, ip="1" * 64))["items"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["req-3", "req-2", "req-1", "req-0"]),
        ({"username": "ALI"}, ["req-1", "req-0"]),
        ({"success": "false"}, ["req-3", "req-1"]),
        ({"success": "true"}, ["req-2", "req-0"]),
        ({"ip": "203.0.113.5"}, ["req-2", "req-1"]),
        ({"since": at(1), "until": at(3)}, ["req-2", "req-1"]),
        ({"user_id": BOB}, ["req-2"]),
    ],
)
async def test_login_filters(client, seeded, root_headers, params, expected):
    data = await _list(client, "logins", root_headers, **params)
    assert _ids(data) == expected
    assert data["total"] == len(expected)


@pytest.mark.django_db(transaction=True)
async def test_login_list_shape_and_pagination(client, seeded, root_headers):
    data = await _list(client, "logins", root_headers, page=2, page_size=3)
    assert _ids(data) == ["req-0"] and data["total"] == 4
    item = data["items"][0]
    assert set(item) >= {
        "id",
        "username",
        "user_id",
        "success",
        "reason",
        "ip",
        "user_agent",
        "browser",
        "os",
        "device",
        "request_id",
        "created_at",
    }
