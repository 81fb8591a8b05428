"""Presence against the real Redis: counts per user, refresh, expiry of a dead process's entries."""

import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from apps.realtime import presence
from apps.realtime.presence import PresenceTracker


class Clock:
    """Stands in for the `time` module inside apps.realtime.presence only."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(presence, "time", fake)
    return fake


@pytest.fixture
async def tracker():
    tracker = PresenceTracker()
    yield tracker
    await tracker.stop()


def new_id() -> str:
    return str(uuid.uuid4())


async def test_presence_counts_connections_per_user(tracker):
    alice, bob, carol = new_id(), new_id(), new_id()
    await tracker.connected(user_id=alice, channel="c.1")
    await tracker.connected(user_id=alice, channel="c.2")
    await tracker.connected(user_id=bob, channel="c.3")

    assert await presence.connection_counts([alice, bob, carol]) == {alice: 2, bob: 1, carol: 0}
    online = await presence.online_counts()
    assert online[alice] == 2 and online[bob] == 1 and carol not in online
    assert await sync_to_async(presence.online_connection_counts)([uuid.UUID(alice), carol]) == {alice: 2, carol: 0}

    await tracker.disconnected(user_id=alice, channel="c.1")
    await tracker.disconnected(user_id=bob, channel="c.3")
    assert await presence.connection_counts([alice, bob]) == {alice: 1, bob: 0}
    online = await presence.online_counts()
    assert online.get(alice) == 1 and bob not in online
    assert tracker.local_count() == 1


async def test_presence_entries_of_a_dead_process_expire(clock, settings):
    settings.WS_PRESENCE_TTL = 30
    dead = PresenceTracker()  # a process that dies without closing its sockets
    user = new_id()
    await dead.connected(user_id=user, channel="dead.1")
    await dead.stop()
    assert await presence.connection_counts([user]) == {user: 1}

    clock.now += 31
    assert await presence.connection_counts([user]) == {user: 0}
    assert user not in await presence.online_counts()


async def test_presence_refresh_keeps_live_entries(clock, settings, tracker):
    settings.WS_PRESENCE_TTL = 30
    user = new_id()
    await tracker.connected(user_id=user, channel="live.1")
    for _ in range(4):  # two minutes of heartbeats, each before the previous expiry
        clock.now += 20
        await tracker.refresh()
    assert await presence.connection_counts([user]) == {user: 1}
    assert (await presence.online_counts())[user] == 1


async def test_presence_refresher_runs_while_sockets_are_open(settings, tracker):
    settings.WS_PRESENCE_TTL = 3  # beats every second
    user = new_id()
    await tracker.connected(user_id=user, channel="beat.1")
    task = tracker._refresher
    assert task is not None and not task.done()
    await tracker.disconnected(user_id=user, channel="beat.1")
    await asyncio.wait_for(task, timeout=3)  # stops on its own once nothing is left to refresh
    assert await presence.connection_counts([user]) == {user: 0}


def test_online_connection_counts_of_nobody_is_empty():
    assert presence.online_connection_counts([]) == {}
