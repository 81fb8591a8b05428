"""The built-in websocket events (CONTRACT §7): ping, room.join, room.leave, chat.send; and presence.online."""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import PermissionDenied
from apps.core.pagination import PageIn
from apps.realtime.events import events
from apps.realtime.injection import CurrentUser, Depends
from apps.realtime.rooms import Rooms, connection_rooms
from apps.realtime.schemas import ChatMessage, ChatSend, ChatUser, RoomIn, RoomOut
from apps.realtime.selectors import online_user_list

CHAT_MESSAGE_EVENT = "chat.message"
# The same permission as GET /users/online: the socket is one more way to ask the same question.
ONLINE_USERS_PERMISSION = "GET:/api/v1/users/online"


@events.on("ping")
async def ping() -> str:
    return "pong"


@events.on("room.join")
async def room_join(msg: RoomIn, rooms: Rooms = Depends(connection_rooms)) -> RoomOut:
    await rooms.join(msg.room)
    return RoomOut(room=msg.room, rooms=rooms.names())


@events.on("room.leave")
async def room_leave(msg: RoomIn, rooms: Rooms = Depends(connection_rooms)) -> RoomOut:
    await rooms.leave(msg.room)
    return RoomOut(room=msg.room, rooms=rooms.names())


@events.on("chat.send")
async def chat_send(msg: ChatSend, user: CurrentUser, rooms: Rooms = Depends(connection_rooms)) -> None:
    if msg.room not in rooms:
        raise PermissionDenied(_("Join the room first"))
    message = ChatMessage(
        room=msg.room,
        text=msg.text,
        user=ChatUser(id=user.pk, username=user.get_username()),
        sent_at=timezone.now(),
    )
    await rooms.broadcast(msg.room, CHAT_MESSAGE_EVENT, message)


@events.on("presence.online", permission=ONLINE_USERS_PERMISSION)
async def presence_online(user: CurrentUser, page: PageIn | None = None) -> dict[str, Any]:
    """Who is online, one page like GET /users/online ({page, page_size} in data, both optional)."""
    return await online_user_list(actor=user, page=page or PageIn.model_validate({}))
