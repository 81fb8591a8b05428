import json

import pytest

from tests.conftest import envelope_of

pytestmark = pytest.mark.django_db(transaction=True)


async def test_success_is_wrapped_in_envelope(client):
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert envelope_of(response) == {"code": 0, "message": "OK", "data": {"status": "ok"}}


async def test_unknown_path_is_40400_envelope(client):
    response = await client.get("/api/v1/definitely/not/here")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert envelope_of(response)["code"] == 40400


async def test_wrong_method_is_40500_envelope_with_allow(client):
    response = await client.delete("/api/v1/health")
    assert response.status_code == 405
    body = envelope_of(response)
    assert body["code"] == 40500
    assert "GET" in response["Allow"]


async def test_malformed_json_is_40000_without_parser_details(client):
    response = await client.post("/api/v1/_test/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = envelope_of(response)
    assert body["code"] == 40000
    assert "Expecting" not in body["message"]


async def test_validation_error_is_42200_with_loc_and_msg(client):
    response = await client.post(
        "/api/v1/_test/echo", data=json.dumps({"name": "x", "count": "many"}), content_type="application/json"
    )
    assert response.status_code == 422
    body = envelope_of(response)
    assert body["code"] == 42200
    assert body["data"] and all(set(item) == {"loc", "msg"} for item in body["data"])
    assert any(item["loc"][-1] == "count" for item in body["data"])


async def test_valid_body_round_trips(client):
    response = await client.post(
        "/api/v1/_test/echo", data=json.dumps({"name": "x", "count": 3}), content_type="application/json"
    )
    assert response.status_code == 200
    assert envelope_of(response)["data"] == {"name": "x", "count": 3}


async def test_unexpected_exception_is_50000_without_leaking(client):
    response = await client.get("/api/v1/_test/boom")
    assert response.status_code == 500
    body = envelope_of(response)
    assert body == {"code": 50000, "message": "Internal server error", "data": None}
    assert "postgres" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


async def test_oversized_body_is_41300(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = json.dumps({"name": "x" * 4096, "count": 1})
    response = await client.post("/api/v1/_test/echo", data=payload, content_type="application/json")
    assert response.status_code == 413
    assert envelope_of(response)["code"] == 41300


async def test_request_id_is_echoed_when_sane(client):
    response = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123.DEF_4:5"})
    assert response["X-Request-ID"] == "abc-123.DEF_4:5"


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "a" * 300, "x\u00e9y", "id with spaces"])
async def test_request_id_is_replaced_when_hostile(client, hostile):
    response = await client.get("/api/v1/health", headers={"X-Request-ID": hostile})
    generated = response["X-Request-ID"]
    assert generated != hostile
    assert len(generated) == 32 and generated.isalnum()


async def test_request_id_is_generated_when_absent(client):
    first = (await client.get("/api/v1/health"))["X-Request-ID"]
    second = (await client.get("/api/v1/health"))["X-Request-ID"]
    assert first and second and first != second


async def test_error_responses_carry_request_id(client):
    response = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-1"})
    assert response["X-Request-ID"] == "trace-1"


async def test_openapi_documents_envelope_and_global_errors(client, settings):
    settings.API_DOCS_PUBLIC = True
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/health"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(ok["properties"]) == {"code", "message", "data"}
    assert ok["properties"]["data"]["$ref"].endswith("/HealthOut")
    for status in ("401", "403", "422", "429", "500"):
        assert operation["responses"][status]["$ref"].startswith("#/components/responses/")
    assert "ErrorEnvelope" in schema["components"]["schemas"]


async def test_docs_need_staff_when_not_public(client, settings):
    settings.API_DOCS_PUBLIC = False
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code in (302, 401, 403)
    assert "paths" not in response.content.decode()


async def test_unreachable_redis_is_50300_not_50000(client, settings):
    from asgiref.sync import sync_to_async

    from tests.factories import UserFactory
    from tests.helpers import bearer_headers

    user = await sync_to_async(UserFactory.create)(username="redisdown")
    headers = await bearer_headers(user)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = await client.get("/api/v1/auth/user/info", headers=headers)
    assert response.status_code == 503
    body = envelope_of(response)
    assert body == {"code": 50300, "message": "Service unavailable", "data": None}
    assert response["Retry-After"] == "5"
