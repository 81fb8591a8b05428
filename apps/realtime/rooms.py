"""Chat rooms of one connection: channel-layer groups named room.<name>."""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import BadRequest
from apps.realtime.injection import Connection, RealtimeConnection
from apps.realtime.services import push_to_group, room_group


class Rooms:
    """The rooms a connection is in; joining and leaving move it in and out of the room's group."""

    def __init__(self, connection: RealtimeConnection) -> None:
        self._connection = connection

    def __contains__(self, room: object) -> bool:
        return room in self._connection.rooms

    def names(self) -> list[str]:
        return sorted(self._connection.rooms)

    async def join(self, room: str) -> None:
        if room in self._connection.rooms:
            return
        if len(self._connection.rooms) >= settings.WS_MAX_ROOMS_PER_CONNECTION:
            raise BadRequest(
                _("A connection may be in at most %(count)s rooms") % {"count": settings.WS_MAX_ROOMS_PER_CONNECTION}
            )
        await self._connection.group_join(room_group(room))
        self._connection.rooms.add(room)

    async def leave(self, room: str) -> None:
        if room not in self._connection.rooms:
            return
        self._connection.rooms.discard(room)
        await self._connection.group_leave(room_group(room))

    async def broadcast(self, room: str, event: str, data: Any) -> None:
        """Every socket in the room, this one included, receives {"event": event, "data": data}."""
        await push_to_group(group=room_group(room), event=event, data=data)


async def connection_rooms(connection: Connection) -> Rooms:
    return Rooms(connection)
