"""End to end: a task run by the real worker reaches a browser-like websocket client as `task.run` frames."""

import asyncio
import time
from typing import Any

import pytest

from tests.helpers import grant
from tests.realtime.conftest import access_token, daphne_server, make_user, recv_json, ws_connect  # noqa: F401
from tests.scheduler import tasks

pytestmark = pytest.mark.django_db(transaction=True)


async def test_worker_run_is_pushed_to_a_task_run_reader_socket(daphne_server, worker):  # noqa: F811
    reader = await make_user(username="e2e-run-reader")
    await grant(reader, "GET:/api/v1/task-runs")
    async with ws_connect(f"{daphne_server.ws_url}?token={await access_token(reader)}") as ws:
        await asyncio.sleep(0.3)  # the socket has joined its groups
        result = await asyncio.to_thread(tasks.add.delay, 5, 6)
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not frames or frames[-1]["data"]["status"] != "SUCCESS"):
            frame = await recv_json(ws, timeout=deadline - time.monotonic())
            if frame["event"] == "task.run" and frame["data"]["task_id"] == result.id:
                frames.append(frame)
    statuses = [frame["data"]["status"] for frame in frames]
    assert "STARTED" in statuses and statuses[-1] == "SUCCESS", statuses
    final = frames[-1]["data"]
    assert final["task"] == "tests.scheduler.add" and final["result"] == 11 and final["args"] == [5, 6]
    assert final["finished_at"].endswith("+00:00")
