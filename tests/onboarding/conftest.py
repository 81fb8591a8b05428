"""The mail tests' SMTP server and worker (one of each for this package), and helpers of the onboarding tests."""

import asyncio
import json
import time
from typing import Any

from asgiref.sync import sync_to_async

from apps.audit.documents import COLLECTIONS
from apps.audit.writer import get_writer
from apps.core import mongo
from tests.helpers import encrypt_like_webcrypto
from tests.mail.conftest import mail_queue_name, mail_worker, smtp, smtp_up

__all__ = ["mail_queue_name", "mail_worker", "smtp", "smtp_up"]


async def sealed(client: Any, password: str) -> str:
    """A password sealed like login's, with a fresh challenge."""
    key = (await client.get("/api/v1/auth/keys/public")).json()["data"]
    return encrypt_like_webcrypto(key["public_key"], password, key["challenge"])


async def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return await client.post(
        f"/api/v1{path}", data=json.dumps(body), content_type="application/json", headers=headers or None
    )


def _login_events(query: dict[str, Any]) -> list[dict[str, Any]]:
    return list(mongo.database()[COLLECTIONS["login"]].find(query))


async def wait_login_event(timeout: float = 20.0, **query: Any) -> dict[str, Any]:
    """The login log matching `query`, written by this process or the worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await sync_to_async(get_writer().flush)(timeout=5)
        found = await sync_to_async(_login_events)(query)
        if found:
            return found[-1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no login log {query} within {timeout}s")
