"""A whole stack of our own for fault tests: Redis, the MongoDB-wire server and the S3 server started by
scripts/services.sh on free ports (so stopping them touches nobody else), a throwaway PostgreSQL database and one
live daphne process in production settings (scripts/bench/harness.py)."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from harness import bench_environment, daphne, django_snippet  # noqa: E402

TOKEN_SNIPPET = """
from apps.accounts.models import User
from tests.helpers import tokens_for
pair = asyncio.run(tokens_for(User.objects.get(username="admin"), user_agent="faults"))
print(json.dumps({"access": pair.access_token}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    base: str
    pid: int
    env: dict[str, str]
    ports: dict[str, int]
    services_dir: str
    mongo_db: str

    def service(self, action: str, name: str) -> None:
        """Start or stop one of the stack's own servers with the project's service script."""
        environment = {
            **os.environ,
            "SERVICES_DIR": self.services_dir,
            "REDIS_PORT": str(self.ports["redis"]),
            "MONGO_PORT": str(self.ports["mongo"]),
            "S3_PORT": str(self.ports["s3"]),
        }
        subprocess.run([str(ROOT / "scripts" / "services.sh"), f"{action}-only", name], env=environment, check=True)
        if action == "stop":
            deadline = time.monotonic() + 10
            while _port_open(self.ports[name]) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _port_open(self.ports[name]), f"{name} still answers"

    def token(self) -> str:
        return str(django_snippet(self.env, TOKEN_SNIPPET)["access"])

    def ready(self) -> tuple[int, dict[str, str]]:
        response = httpx.get(f"{self.base}/api/v1/health/ready", timeout=10)
        return response.status_code, response.json()["data"]["checks"]

    def wait_ready(self, name: str, expected: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.ready()[1].get(name) == expected:
                return
            time.sleep(0.3)
        raise AssertionError(f"readiness never said {name}={expected}: {self.ready()}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    services_dir = tempfile.mkdtemp(prefix="faults-")
    ports = {"redis": _free_port(), "mongo": _free_port(), "s3": _free_port()}
    run_id = uuid.uuid4().hex[:8]
    mongo_db = f"faults_{run_id}"
    extra = {
        "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "MONGODB_URL": f"mongodb://127.0.0.1:{ports['mongo']}/{mongo_db}",
        "S3_ENDPOINT": f"127.0.0.1:{ports['s3']}",
        "S3_ACCESS_KEY": "faults",
        "S3_SECRET_KEY": "faults-secret",
        "S3_BUCKET": f"faults-{run_id}",
        "S3_SECURE": "false",
        # Every request is an operation log here, so "no record lost" is checked on every call of the load.
        "AUDIT_LOG_METHODS": "GET,POST,PUT,PATCH,DELETE",
        "AUDIT_FLUSH_INTERVAL": "0.2",
        "AUDIT_RETRY_MAX_INTERVAL": "1",
        "AUDIT_SPOOL": "file",
        "AUDIT_SPOOL_DIR": str(Path(services_dir) / "audit-spool"),
        "MONGODB_TIMEOUT_MS": "500",
        "HEALTH_CHECK_TIMEOUT": "1",
        "LOGIN_THROTTLE_IP_LIMIT": "100000",
    }
    stack = Stack("", 0, {}, ports, services_dir, mongo_db)
    for name in ("redis", "mongo", "s3"):
        stack.service("start", name)
    try:
        with bench_environment(extra) as env, daphne(env) as (base, pid):
            stack.base, stack.pid, stack.env = base, pid, env
            yield stack
    finally:
        for name in ("redis", "mongo", "s3"):
            stack.service("stop", name)


@dataclass
class Load:
    """Requests sent continuously from a background thread; each answer kept as (status, code, Retry-After)."""

    url: str
    headers: dict[str, str]
    concurrency: int = 8
    answers: list[tuple[int, int | None, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "Load":
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def take(self) -> list[tuple[int, int | None, str | None]]:
        """The answers so far, and start a new tally."""
        taken, self.answers = self.answers, []
        return taken

    async def _run(self) -> None:
        async with httpx.AsyncClient(headers=self.headers, timeout=15) as client:

            async def worker() -> None:
                while not self._stop.is_set():
                    try:
                        response = await client.get(self.url)
                    except httpx.HTTPError:
                        self.answers.append((0, None, None))  # no answer at all: counted, and asserted against
                        continue
                    try:
                        code = response.json().get("code")
                    except ValueError:
                        code = None
                    self.answers.append((response.status_code, code, response.headers.get("Retry-After")))

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
