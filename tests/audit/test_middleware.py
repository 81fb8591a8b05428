import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings

from apps.audit.writer import get_writer
from tests.audit.conftest import amake_user, logged_failed_login, operation_logs
from tests.helpers import bearer_headers

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _flush():
    assert get_writer().flush(timeout=15)


async def _aflush():
    assert await sync_to_async(get_writer().flush)(timeout=15)


@pytest.mark.django_db(transaction=True)
async def test_operation_log_has_contract_fields_and_redacts_secrets(client, audit_db):
    body = {"name": "widget", "count": 2, "password": "hunter2", "profile": {"api_key": "k-1", "city": "Oslo"}}
    response = await client.post(
        "/api/v1/_test/echo?page=2&access_token=t-123",
        data=json.dumps(body),
        content_type="application/json",
        headers={"User-Agent": IPHONE, "X-Request-ID": "req-audit-1"},
    )
    assert response.status_code == 200
    await _aflush()
    [log] = operation_logs(audit_db)
    assert log["request_id"] == "req-audit-1"
    assert log["method"] == "POST"
    assert log["path"] == "/api/v1/_test/echo"
    assert log["route"] == "/api/v1/_test/echo"
    assert log["status"] == 200
    assert 0 < log["duration_ms"] < 10_000
    assert log["ip"] == "127.0.0.1"
    assert log["user_agent"] == IPHONE
    assert (log["browser"], log["os"], log["device"]) == ("Mobile Safari 17.0", "iOS 17.0", "iPhone")
    assert log["query"] == {"page": "2", "access_token": "[REDACTED]"}
    assert log["body"] == {
        "name": "widget",
        "count": 2,
        "password": "[REDACTED]",
        "profile": {"api_key": "[REDACTED]", "city": "Oslo"},
    }
    assert log["user_id"] is None and log["username"] is None
    assert log["created_at"].tzinfo is not None
    stored = json.dumps(log, default=str)
    assert "hunter2" not in stored and "t-123" not in stored and "k-1" not in stored


@pytest.mark.django_db(transaction=True)
async def test_operation_log_names_the_signed_in_user_and_route_template(client, audit_db):
    user = await amake_user(username="auditee")
    headers = await bearer_headers(user)
    response = await client.post("/api/v1/auth/logout", headers=headers)
    assert response.status_code == 200
    # An operation with a path parameter, refused for lack of permission: still logged, with the user.
    response = await client.delete(
        "/api/v1/roles/0191b7a8-0000-7000-8000-000000000000", headers=await bearer_headers(user)
    )
    assert response.status_code == 403
    await _aflush()
    logs = {log["path"]: log for log in operation_logs(audit_db)}
    logout = logs["/api/v1/auth/logout"]
    assert logout["user_id"] == str(user.pk) and logout["username"] == "auditee"
    denied = logs["/api/v1/roles/0191b7a8-0000-7000-8000-000000000000"]
    assert denied["status"] == 403
    assert denied["route"] == "/api/v1/roles/{role_id}"
    assert denied["user_id"] == str(user.pk)


@pytest.mark.django_db(transaction=True)
async def test_successful_get_is_not_logged_but_failed_get_is(client, audit_db):
    assert (await client.get("/api/v1/auth/keys/public")).status_code == 200
    assert (await client.get("/api/v1/no-such-route")).status_code == 404
    await _aflush()
    logs = operation_logs(audit_db)
    assert [(log["method"], log["path"], log["status"]) for log in logs] == [("GET", "/api/v1/no-such-route", 404)]
    assert logs[0]["route"] is None


@pytest.mark.django_db(transaction=True)
async def test_health_probes_are_never_logged(client, audit_db):
    await client.get("/api/v1/health")
    await client.post("/api/v1/health")  # 405, excluded by AUDIT_EXCLUDE_PATHS all the same
    await _aflush()
    assert operation_logs(audit_db) == []


@pytest.mark.django_db(transaction=True)
async def test_logged_methods_and_failures_follow_settings(client, audit_db):
    with override_settings(AUDIT_LOG_METHODS=["GET"], AUDIT_LOG_FAILURES=False):
        await client.get("/api/v1/auth/keys/public")
        await client.post("/api/v1/_test/echo", data={"name": "x", "count": 1}, content_type="application/json")
        await client.get("/api/v1/no-such-route")
    await _aflush()
    logs = operation_logs(audit_db)
    assert sorted((log["method"], log["path"]) for log in logs) == [
        ("GET", "/api/v1/auth/keys/public"),
        ("GET", "/api/v1/no-such-route"),
    ]


@pytest.mark.django_db(transaction=True)
async def test_large_and_non_json_bodies_are_kept_by_size_only(client, audit_db):
    with override_settings(AUDIT_BODY_MAX_BYTES=64):
        big = {"name": "x" * 200, "count": 1}
        await client.post("/api/v1/_test/echo", data=json.dumps(big), content_type="application/json")
    await client.post("/api/v1/_test/echo", data="name=x&password=p", content_type="application/x-www-form-urlencoded")
    await _aflush()
    by_type = sorted(operation_logs(audit_db), key=lambda log: log["body_size"])
    form, large = by_type
    assert form["body"] is None and form["body_size"] == len("name=x&password=p")
    assert large["body"] is None and large["body_size"] == len(json.dumps(big))


@pytest.mark.django_db(transaction=True)
async def test_body_of_request_rejected_before_the_view_is_still_logged(client, audit_db):
    # No token: the auth class refuses it before the handler reads the body; the middleware reads it after.
    response = await client.post(
        "/api/v1/roles", data=json.dumps({"name": "r", "secret": "s3"}), content_type="application/json"
    )
    assert response.status_code == 401
    await _aflush()
    [log] = operation_logs(audit_db)
    assert log["body"] == {"name": "r", "secret": "[REDACTED]"}


@pytest.mark.django_db(transaction=True)
async def test_client_ip_behind_a_trusted_proxy(client, audit_db):
    with override_settings(TRUSTED_PROXIES=["127.0.0.1"]):
        await client.post(
            "/api/v1/_test/echo",
            data={"name": "x", "count": 1},
            content_type="application/json",
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
    await client.post(
        "/api/v1/_test/echo",
        data={"name": "y", "count": 1},
        content_type="application/json",
        headers={"X-Forwarded-For": "203.0.113.78"},
    )
    await _aflush()
    ips = {log["body"]["name"]: log["ip"] for log in operation_logs(audit_db)}
    assert ips == {"x": "203.0.113.77", "y": "127.0.0.1"}  # without a trusted proxy the header is ignored


@pytest.mark.django_db(transaction=True)
def test_operation_log_through_the_sync_handler(audit_db):
    response = Client().post("/api/v1/_test/echo", data={"name": "sync", "count": 3}, content_type="application/json")
    assert response.status_code == 200
    _flush()
    [log] = operation_logs(audit_db)
    assert log["body"] == {"name": "sync", "count": 3}
    assert log["route"] == "/api/v1/_test/echo"


@pytest.mark.django_db(transaction=True)
async def test_request_does_not_wait_for_an_unreachable_mongodb(client, audit_db, closed_port_db):
    import time

    writer = get_writer()
    original = writer._database
    writer._database = lambda: closed_port_db
    try:
        started = time.perf_counter()
        for _ in range(5):
            response = await client.post(
                "/api/v1/_test/echo", data={"name": "down", "count": 1}, content_type="application/json"
            )
            assert response.status_code == 200
        elapsed = time.perf_counter() - started
        assert not await sync_to_async(writer.flush)(timeout=15)
    finally:
        writer._database = original
    assert elapsed < 2.0  # five requests, while each MongoDB attempt takes the full server-selection timeout
    await _aflush()
    assert len(operation_logs(audit_db)) == 5


@pytest.mark.django_db(transaction=True)
async def test_lone_surrogates_are_stored_replaced_and_spoil_no_other_record(client, audit_db):
    # "\ud800" escapes are valid JSON but cannot be encoded as UTF-8, which BSON and the spool need.
    bad_body = '{"name": "ok", "count": 1, "note": "a\\ud800b", "\\udfff": ["\\udbff", {"deep": "\\udc00"}]}'
    good = json.dumps({"name": "fine", "count": 2})
    responses = [
        await client.post("/api/v1/_test/echo?n=1", data=good, content_type="application/json"),
        await client.post("/api/v1/_test/echo?q=%ED%A0%80&n=2", data=bad_body, content_type="application/json"),
        await client.post("/api/v1/_test/echo?n=3", data=good, content_type="application/json"),
    ]
    # The API refuses the lone surrogates as a malformed body; the operation log still records the request.
    assert [r.status_code for r in responses] == [200, 400, 200]
    await _aflush()
    logs = {log["query"]["n"]: log for log in operation_logs(audit_db)}
    assert sorted(logs) == ["1", "2", "3"]  # the bad record did not take the others down with it
    bad = logs["2"]
    assert bad["body"] == {"name": "ok", "count": 1, "note": "a\ufffdb", "\ufffd": ["\ufffd", {"deep": "\ufffd"}]}
    assert bad["query"]["q"] == "\ufffd\ufffd\ufffd"
    assert logs["1"]["body"] == logs["3"]["body"] == {"name": "fine", "count": 2}


def test_lone_surrogates_in_a_login_log_are_replaced(audit_db):
    log = logged_failed_login(
        audit_db,
        username="eve\ud800",
        ip="198.51.100.7",
        user_agent="agent\udfff/1.0",
        request_id="req-surrogate",
    )
    assert (log["username"], log["user_agent"]) == ("eve\ufffd", "agent\ufffd/1.0")
