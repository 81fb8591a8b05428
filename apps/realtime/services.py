"""Pushes other apps send to sockets through the channel layer (from any process: web, worker, shell)."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.realtime import frames

PUSH_TYPE = "push.event"
NOTIFICATION_EVENT = "notification"
TASK_RUN_EVENT = "task.run"
TASK_RUNS_GROUP = "task_runs"
TASK_RUNS_PERMISSION = "GET:/api/v1/task-runs"


def user_group(user_id: str | UUID) -> str:
    return f"user.{user_id}"


def session_group(session_id: str) -> str:
    return f"session.{session_id}"


def room_group(room: str) -> str:
    return f"room.{room}"


async def push_to_group(*, group: str, event: str, data: Any) -> None:
    """Every socket in `group` receives {"event": event, "data": data}."""
    layer = get_channel_layer()
    if layer is None:
        return
    data = frames.jsonable(data)
    # The frame's text is encoded here once, not once per receiving socket (a room of 500 is 500 encodings).
    text = frames.encode(frames.push(event, data))
    await layer.group_send(group, {"type": PUSH_TYPE, "event": event, "data": data, "text": text})


async def notify_user(user_id: str | UUID, data: Any) -> None:
    """A `notification` push to every open socket of the user (nothing happens when none is open)."""
    await push_to_group(group=user_group(user_id), event=NOTIFICATION_EVENT, data=data)


def notify_user_sync(user_id: str | UUID, data: Any) -> None:
    """notify_user for sync code (views, Celery tasks); not for code already running inside an event loop."""
    async_to_sync(notify_user)(user_id, data)


async def task_run_push(data: Any) -> None:
    """A `task.run` push to the sockets of users allowed to read task runs."""
    await push_to_group(group=TASK_RUNS_GROUP, event=TASK_RUN_EVENT, data=data)


async def sessions_revoke(*, session_ids: Iterable[str], reason: str = "") -> None:
    """Sockets opened with these sessions send `session.revoked` and close with 4401."""
    layer = get_channel_layer()
    if layer is None:
        return
    for session_id in session_ids:
        await layer.group_send(session_group(session_id), {"type": "session.revoked", "reason": reason})
