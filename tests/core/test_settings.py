"""Settings are read from the environment only; with none at all the embedded defaults apply.

The first tests check which backends the settings select (a unit test of configuration: nothing is connected
to). The last one configures a process from the environment the way a deployment does, pointed at the real
PostgreSQL, Redis and MongoDB-wire servers of scripts/services.sh, and makes each backend answer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
from apps.core import mongo
print(json.dumps({
    "debug": settings.DEBUG,
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "mongo_fallback": mongo.is_fallback(),
    "hosts": settings.ALLOWED_HOSTS,
    "docs_public": settings.API_DOCS_PUBLIC,
    "admin": [settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD],
    "access_ttl": settings.ACCESS_TOKEN_TTL,
}))
"""


# Each backend the settings built, used once against the real services.
SERVICES_PROBE = """
import asyncio, json, uuid, django
from django.conf import settings
django.setup()
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from apps.core import mongo

mongo.ping()  # raises when the MongoDB-wire server does not answer
key = "settings-probe-" + uuid.uuid4().hex
cache.set(key, "kept", 30)
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
    (one,) = cursor.fetchone()


async def layer_round_trip():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = "probe-" + uuid.uuid4().hex
    await layer.group_add(group, channel)
    await layer.group_send(group, {"type": "probe.ping", "text": "hello"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    await layer.group_discard(group, channel)
    return message


print(json.dumps({
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": cache.get(key),
    "db": [connection.vendor, one],
    "message": async_to_sync(layer_round_trip)(),
    "mongo_fallback": mongo.is_fallback(),
}))
cache.delete(key)
"""


def _probe(env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOT_ENV": "false",
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_without_environment_select_the_embedded_defaults():
    result = _probe({})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["debug"] is True
    assert data["db"] == "django.db.backends.sqlite3" and data["db_name"].endswith("db.sqlite3")
    assert data["cache"].endswith("LocMemCache")
    assert data["layer"] == "channels.layers.InMemoryChannelLayer"
    assert data["mongo_fallback"] is True
    assert data["hosts"] == ["localhost", "127.0.0.1"]
    assert data["docs_public"] is True
    assert data["admin"] == ["admin", "123456"]
    assert data["access_ttl"] == 900
    assert "LOST" in result.stderr  # the in-memory MongoDB fallback says loudly that it keeps nothing


def test_settings_from_environment():
    result = _probe(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "api.example.com",
            "DATABASE_URL": "postgres://u:p@db.example.com:5432/app",
            "REDIS_URL": "redis://cache.example.com:6379/1",
            "MONGODB_URL": "mongodb://mongo.example.com:27017/docs",
            "ACCESS_TOKEN_TTL": "60",
            "ADMIN_USERNAME": "root",
            "ADMIN_PASSWORD": "s3cret-pass",
        }
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["debug"] is False
    assert data["db"] == "django.db.backends.postgresql" and data["db_name"] == "app"
    assert data["cache"] == "django_redis.cache.RedisCache"
    assert data["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert data["broker"] == "redis://cache.example.com:6379/1"
    assert data["mongo_fallback"] is False
    assert data["hosts"] == ["api.example.com"]
    assert data["docs_public"] is False
    assert data["admin"] == ["root", "s3cret-pass"]
    assert data["access_ttl"] == 60


def test_production_without_secret_key_refuses_to_start():
    result = _probe({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_has_no_default_admin_password():
    result = _probe({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "y" * 50})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["admin"] == ["", ""]


def test_backends_configured_from_environment_answer_on_the_real_services():
    """DATABASE_URL, REDIS_URL and MONGODB_URL as the test run set them (scripts/test.sh: the real servers)."""
    env = {name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL", "MONGODB_URL", "DJANGO_SECRET_KEY")}
    result = _probe({**env, "DJANGO_DEBUG": "false", "CACHE_KEY_PREFIX": "settings-probe"}, SERVICES_PROBE)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert data["cache"] == "kept"
    assert data["db"] == ["postgresql", 1]
    assert data["message"] == {"type": "probe.ping", "text": "hello"}
    assert data["mongo_fallback"] is False
