"""Regressions from fuzzing the API (bodies, queries, pages, database errors, OpenAPI) and its deployment."""

import importlib.util
import json
import logging
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from asgiref.sync import sync_to_async
from django import db

from apps.accounts.models import User
from apps.core.pagination import MAX_PAGE, MAX_PAGE_SIZE, PageIn
from tests.conftest import envelope_of
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
ECHO = "/api/v1/_test/echo"
PERMISSIONS = "/api/v1/permissions"  # a paginated list whose `search` reaches PostgreSQL


@pytest.fixture
async def root_headers() -> dict[str, str]:
    root = await User.objects.acreate(username="fuzzroot", is_superuser=True, is_staff=True)
    return await bearer_headers(root)


async def _post_raw(client: Any, body: str) -> Any:
    return await client.post(ECHO, data=body, content_type="application/json")


# --- 1. request bodies and query strings -------------------------------------------------------------------


@pytest.mark.parametrize("body", ["[]", '[{"name": "x", "count": 1}]', "1", "1.5", '"text"', "null", "true"])
async def test_body_that_is_not_a_json_object_is_the_malformed_body_envelope(client, body):
    malformed = await _post_raw(client, "{not json")
    response = await _post_raw(client, body)
    assert response.status_code == 400
    assert envelope_of(response) == envelope_of(malformed)
    assert envelope_of(response)["code"] == 40000


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_non_finite_numbers_are_refused_like_malformed_json(client, constant):
    malformed = await _post_raw(client, "{not json")
    response = await _post_raw(client, f'{{"name": "x", "count": {constant}}}')
    assert response.status_code == 400
    assert envelope_of(response) == envelope_of(malformed)


@pytest.mark.parametrize("text", ["a\\ud800b", "\\udfff", "\\uDBFF\\u0041"])
async def test_lone_surrogate_escapes_are_refused_like_malformed_json(client, text):
    # Valid JSON syntax, but not text: UTF-8 (PostgreSQL, Redis, logs) cannot encode a lone surrogate.
    malformed = await _post_raw(client, "{not json")
    response = await _post_raw(client, f'{{"name": "{text}", "count": 1}}')
    assert response.status_code == 400
    assert envelope_of(response) == envelope_of(malformed)


async def test_a_surrogate_pair_escape_is_one_real_character(client):
    response = await _post_raw(client, '{"name": "smile \\ud83d\\ude00", "count": 1}')
    assert response.status_code == 200
    assert envelope_of(response)["data"]["name"] == "smile \U0001f600"


async def test_a_json_object_body_still_round_trips(client):
    response = await _post_raw(client, json.dumps({"name": "x", "count": 2, "extra": 1.5}))
    assert response.status_code == 200
    assert envelope_of(response)["data"] == {"name": "x", "count": 2}


@pytest.mark.parametrize("params", [{"search": "a\x00b"}, {"search": "ok", "unused": "\x00"}])
async def test_nul_in_a_query_value_is_42200_not_a_database_error(client, root_headers, params):
    response = await client.get(PERMISSIONS, params, headers=root_headers)
    assert response.status_code == 422
    body = envelope_of(response)
    assert body["code"] == 42200
    key = next(k for k, v in params.items() if "\x00" in v)
    assert body["data"] == [{"loc": ["query", key], "msg": "must not contain NUL characters"}]


async def test_nul_query_is_checked_after_authorization(client):
    # Authorization runs before validation: an anonymous caller still learns only 40100.
    response = await client.get(PERMISSIONS, {"search": "\x00"})
    assert response.status_code == 401
    assert envelope_of(response)["code"] == 40100


# --- 2. pagination -----------------------------------------------------------------------------------------


def test_page_is_bounded():
    assert PageIn(page=MAX_PAGE, page_size=MAX_PAGE_SIZE).page == MAX_PAGE
    with pytest.raises(ValueError):
        PageIn(page=MAX_PAGE + 1, page_size=20)


@pytest.mark.parametrize("page", [str(1_000_001), "9" * 30])
async def test_huge_page_is_42200_not_an_offset_overflow(client, root_headers, page):
    response = await client.get(PERMISSIONS, {"page": page}, headers=root_headers)
    assert response.status_code == 422
    body = envelope_of(response)
    assert body["code"] == 42200
    assert [item["loc"] for item in body["data"]] == [["query", "page"]]


async def test_last_allowed_page_answers_an_empty_page_and_page_size_stays_capped(client, root_headers):
    response = await client.get(PERMISSIONS, {"page": MAX_PAGE, "page_size": 1000}, headers=root_headers)
    assert response.status_code == 200
    data = envelope_of(response)["data"]
    assert data["items"] == [] and data["total"] > 0
    assert data["page"] == MAX_PAGE and data["page_size"] == MAX_PAGE_SIZE


# --- 3. database errors ------------------------------------------------------------------------------------


def _overflow_in_postgresql() -> None:
    with db.connection.cursor() as cursor:
        cursor.execute("SELECT 2147483647::integer + 1")  # SQLSTATE 22003: integer out of range


async def test_database_data_error_is_40000_without_exception_text(client, monkeypatch, caplog):
    async def readiness() -> dict[str, str]:
        await sync_to_async(_overflow_in_postgresql)()
        return {}

    monkeypatch.setattr("apps.core.api.readiness", readiness)
    caplog.set_level(logging.WARNING, logger="apps.core.errors")
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 400
    body = envelope_of(response)
    assert body["code"] == 40000 and body["data"] is None
    assert "integer out of range" not in response.content.decode()
    records = [r for r in caplog.records if r.name == "apps.core.errors"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert getattr(records[0], "sqlstate", None) == "22003"
    assert "integer out of range" not in records[0].getMessage()


@pytest.mark.parametrize("error", [db.IntegrityError, db.ProgrammingError, db.DatabaseError])
async def test_other_database_errors_stay_50000(client, monkeypatch, error):
    async def readiness() -> dict[str, str]:
        raise error("secret detail from the database")

    monkeypatch.setattr("apps.core.api.readiness", readiness)
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 500
    assert envelope_of(response) == {"code": 50000, "message": "Internal server error", "data": None}


# --- 4. OpenAPI --------------------------------------------------------------------------------------------

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


async def _schema(client: Any, settings: Any) -> dict[str, Any]:
    settings.API_DOCS_PUBLIC = True
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert isinstance(schema, dict)
    return schema


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _refers_to_error_envelope(schema: dict[str, Any], response: dict[str, Any], name: str) -> bool:
    if response != {"$ref": f"#/components/responses/{name}"}:
        return False
    content = schema["components"]["responses"][name]["content"]["application/json"]["schema"]
    return bool(content == {"$ref": "#/components/schemas/ErrorEnvelope"})


async def test_openapi_documents_503_for_every_operation(client, settings):
    schema = await _schema(client, settings)
    operations = _operations(schema)
    assert len(operations) > 20
    for method, path, operation in operations:
        response = operation["responses"].get("503")
        assert response is not None, f"{method} {path}"
        if path == "/api/v1/health/ready":
            # Its own 503 body (the readiness checks inside the envelope) is kept.
            assert response["content"]["application/json"]["schema"]["properties"]["data"]["$ref"].endswith(
                "/ReadinessOut"
            )
        else:
            assert _refers_to_error_envelope(schema, response, "ServiceUnavailable"), f"{method} {path}"


async def test_openapi_documents_400_and_413_for_operations_with_a_body(client, settings):
    schema = await _schema(client, settings)
    with_body = [(m, p, op) for m, p, op in _operations(schema) if "requestBody" in op]
    assert any(p == "/api/v1/auth/login" for _, p, _ in with_body)
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        if "requestBody" in operation:
            assert _refers_to_error_envelope(schema, responses["400"], "BadRequest"), f"{method} {path}"
            assert _refers_to_error_envelope(schema, responses["413"], "PayloadTooLarge"), f"{method} {path}"
        else:
            assert "413" not in responses, f"{method} {path}"


async def test_openapi_documents_404_for_operations_with_path_parameters(client, settings):
    schema = await _schema(client, settings)
    seen = 0
    for method, path, operation in _operations(schema):
        has_path_parameter = any(p.get("in") == "path" for p in operation.get("parameters", []))
        if has_path_parameter:
            seen += 1
            assert _refers_to_error_envelope(schema, operation["responses"]["404"], "NotFound"), f"{method} {path}"
    assert seen > 5
    health = schema["paths"]["/api/v1/health"]["get"]["responses"]
    assert not {"400", "404", "413"} & set(health)


# --- 5. benchmarks keep off the dev/test Redis database ----------------------------------------------------


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_harness", ROOT / "scripts" / "bench" / "harness.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_use_redis_database_14_unless_told_otherwise(monkeypatch):
    harness = _harness()
    monkeypatch.delenv("BENCH_REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")  # a dev/test run's database is not inherited
    assert harness.bench_redis_url() == "redis://127.0.0.1:6379/14"
    monkeypatch.setenv("BENCH_REDIS_URL", "redis://10.0.0.5:6380/3")
    assert harness.bench_redis_url() == "redis://10.0.0.5:6380/3"


# --- 6. no daphne access log (it prints raw query strings, websocket tokens included) -----------------------


def _daphne_commands() -> dict[str, list[str]]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD (\[\"daphne\".*\])$", dockerfile, re.MULTILINE)
    assert match, "the Dockerfile's default command runs daphne"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {"Dockerfile": json.loads(match.group(1)), "docker-compose web": compose["services"]["web"]["command"]}


@pytest.mark.parametrize("where", ["Dockerfile", "docker-compose web"])
def test_daphne_command_lines_discard_daphnes_access_log(where):
    from daphne.cli import CommandLineInterface

    command = _daphne_commands()[where]
    assert command[0] == "daphne"
    # Parsed by daphne's own CLI, so a misspelt flag fails here rather than at container start.
    args = CommandLineInterface().parser.parse_args(command[1:])
    assert args.access_log == "/dev/null"
    assert args.application == "config.asgi:application"
