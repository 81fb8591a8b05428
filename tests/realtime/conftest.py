"""A real daphne process serving config.asgi on a free port, sharing this run's database, Redis and keys."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from websockets.asyncio.client import ClientConnection, connect

from tests.factories import UserFactory
from tests.helpers import bearer_headers

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_of_test_db() -> str:
    """DATABASE_URL pointed at this run's test database (pytest-django created it under DATABASE_TEST_NAME)."""
    name = os.environ.get("DATABASE_TEST_NAME") or settings.DATABASES["default"]["NAME"]
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class Server:
    host: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_daphne(env_overrides: dict[str, str], log_path: Path) -> Server:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(env_overrides)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(host="127.0.0.1", port=port, log_path=log_path, process=process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{server.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.http_url}/api/v1/health", timeout=1) as response:
                if json.loads(response.read())["data"]["status"] == "ok":
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"daphne did not answer within 30 s:\n{server.log_text()[-3000:]}")
        time.sleep(0.2)


def stop_daphne(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@pytest.fixture(autouse=True)
async def _close_sync_thread_db_connections() -> AsyncIterator[None]:
    """Async ORM calls leave a connection open in asgiref's shared sync thread: close it after each test, so
    later tests without database access do not trip over it there."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    assert str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).startswith("channels_redis."), "end-to-end needs Redis"
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    # DEBUG logs on purpose: the token must not show up even there.
    server = start_daphne({"DATABASE_URL": database_url_of_test_db(), "LOG_LEVEL": "DEBUG"}, log_path)
    yield server
    stop_daphne(server)


@pytest.fixture(scope="session")
def second_daphne_server(daphne_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Another process of the same deployment: rooms, pushes and presence must span both."""
    log_path = tmp_path_factory.mktemp("daphne2") / "daphne.log"
    server = start_daphne({"DATABASE_URL": database_url_of_test_db(), "LOG_LEVEL": "INFO"}, log_path)
    yield server
    stop_daphne(server)


async def access_token(user: Any, *, user_agent: str = "pytest") -> str:
    """A real access token of a new session of `user`."""
    headers = await bearer_headers(user, user_agent=user_agent)
    return headers["Authorization"].removeprefix("Bearer ")


async def make_user(**kwargs: Any) -> Any:
    return await sync_to_async(UserFactory)(**kwargs)


@asynccontextmanager
async def ws_connect(url: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    kwargs.setdefault("open_timeout", 10)
    async with connect(url, **kwargs) as ws:
        yield ws


async def recv_json(ws: ClientConnection, timeout: float = 5) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def request(ws: ClientConnection, event: str, data: Any = None, frame_id: str = "1") -> Any:
    """Send one frame with an id and return the next frame (its ack or error)."""
    frame: dict[str, Any] = {"event": event, "id": frame_id}
    if data is not None:
        frame["data"] = data
    await ws.send(json.dumps(frame))
    return await recv_json(ws)


async def assert_closed_with(ws: ClientConnection, code: int, timeout: float = 5) -> None:
    await asyncio.wait_for(ws.wait_closed(), timeout)
    assert ws.close_code == code, (ws.close_code, ws.close_reason)


async def assert_silent(ws: ClientConnection, seconds: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)
