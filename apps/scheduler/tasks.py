"""Harmless demo tasks, useful to try schedules and to check that worker and beat are alive."""

import asyncio

from apps.scheduler.base import task


@task(name="scheduler.ping")
def ping(message: str = "pong") -> str:
    """Answers `message` ("pong" by default); a sync task."""
    return message


@task(name="scheduler.ping_async")
async def ping_async(message: str = "pong") -> str:
    """Answers `message` ("pong" by default) from the worker's event loop; an async task."""
    await asyncio.sleep(0)
    return message
