import pytest

from apps.core import mongo
from tests.conftest import envelope_of

pytestmark = pytest.mark.django_db(transaction=True)


async def test_health_is_public_and_ok(client):
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert envelope_of(response)["data"] == {"status": "ok"}


async def test_ready_reports_every_service_ok(client):
    response = await client.get("/api/v1/health/ready")
    body = envelope_of(response)
    assert response.status_code == 200, body
    assert body["data"] == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "mongodb": "ok", "object_storage": "ok", "broker": "ok"},
    }


@pytest.fixture
def mongodb_unreachable(settings):
    settings.MONGODB_TIMEOUT_MS = 300
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    yield
    settings.MONGODB_TIMEOUT_MS = 2000
    mongo.connect(force=True)


async def test_ready_is_503_when_mongodb_is_down_without_leaking(client, mongodb_unreachable):
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    body = envelope_of(response)
    assert body["code"] == 50300
    assert body["data"]["status"] == "unavailable"
    assert body["data"]["checks"]["mongodb"] == "error"
    assert body["data"]["checks"]["database"] == "ok"
    text = response.content.decode()
    for leak in ("mongodb://", "127.0.0.1", "unreachable", "Timeout", "refused"):
        assert leak not in text


async def test_ready_is_503_when_object_storage_is_down(client, settings):
    settings.S3_ENDPOINT = "127.0.0.1:1"
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    body = envelope_of(response)
    assert body["data"]["checks"]["object_storage"] == "error"
    assert "127.0.0.1:1" not in response.content.decode()


async def test_ready_is_503_when_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.HEALTH_CHECK_TIMEOUT = 0.5
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert envelope_of(response)["data"]["checks"]["broker"] == "error"
