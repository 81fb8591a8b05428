"""Realtime pushes of task runs: every status change goes to the channel-layer group of task-run readers."""

from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

TASK_RUNS_GROUP = "task_runs"
TASK_RUN_EVENT = "task.run"


def task_run_message(record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "push.event", "event": TASK_RUN_EVENT, "data": record}


async def push_task_run(record: dict[str, Any]) -> bool:
    """Send one run record to the `task_runs` group; False when there is no shared channel layer."""
    layer = get_channel_layer()
    # The in-memory layer only reaches sockets of the same process and event loop, never a worker's.
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return False
    await layer.group_send(TASK_RUNS_GROUP, task_run_message(record))
    return True
