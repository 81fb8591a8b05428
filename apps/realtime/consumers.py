"""The /ws/ consumer: one JSON websocket per client, frames dispatched to the event registry."""

import contextlib
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import aclose_old_connections
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.accounts.models import User
from apps.accounts.sessions import session_fields
from apps.core.exceptions import DomainError, ErrorCode, SessionRevoked
from apps.realtime import frames
from apps.realtime.events import EventRegistry, events
from apps.realtime.gate import redis_slot
from apps.realtime.injection import HandlerContext
from apps.realtime.middleware import (
    CLOSE_UNAUTHENTICATED,
    SCOPE_AUTH,
    SCOPE_AUTH_ERROR,
    SCOPE_SUBPROTOCOL,
    failure_close,
)
from apps.realtime.presence import tracker
from apps.realtime.services import (
    TASK_RUN_EVENT,
    TASK_RUNS_GROUP,
    TASK_RUNS_PERMISSION,
    session_group,
    user_group,
)

logger = logging.getLogger("apps.realtime")

SESSION_REVOKED_EVENT = "session.revoked"
DB_RECYCLE_INTERVAL = 1.0  # seconds
_last_db_recycle = 0.0


async def _recycle_db_connections() -> None:
    """Django's request-boundary cleanup of the ORM connection, at most once a second per process.

    Socket ORM work shares one sync thread (and connection). Closing it on every connect, as Channels does on
    every message, makes a reconnect storm pay a new PostgreSQL connection per socket; once a second still
    drops a broken or expired connection quickly.
    """
    global _last_db_recycle
    now = time.monotonic()
    if now - _last_db_recycle >= DB_RECYCLE_INTERVAL:
        _last_db_recycle = now
        await aclose_old_connections()


class RealtimeConsumer(AsyncWebsocketConsumer):
    registry: EventRegistry = events

    user: User | None = None
    session_id: str | None = None
    _closing: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rooms: set[str] = set()
        self._groups: set[str] = set()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, minus a thread hop per message and the crash on unknown pushed types."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            logger.warning("websocket got a message it has no handler for", extra={"type": message.get("type")})
            return
        if message["type"] == "websocket.connect":
            await _recycle_db_connections()
        await handler(message)

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        subprotocol = self.scope.get(SCOPE_SUBPROTOCOL)
        auth = self.scope.get(SCOPE_AUTH)
        if auth is None:
            code, reason = self.scope.get(SCOPE_AUTH_ERROR) or (CLOSE_UNAUTHENTICATED, "not authenticated")
            await self._refuse(subprotocol, code, reason)
            return
        try:
            await self._join_as(auth)
        except DomainError as exc:
            await self._leave_all_groups()
            await self._refuse(subprotocol, CLOSE_UNAUTHENTICATED, f"{int(exc.code)} {exc.message}"[:120])
            return
        except Exception as exc:
            code, reason = failure_close(exc, "websocket connect failed")
            with contextlib.suppress(Exception):  # the layer may be what failed
                await self._leave_all_groups()
            await self._refuse(subprotocol, code, reason)
            return
        user: User = auth.user
        await self.accept(subprotocol)
        try:
            await tracker.connected(user_id=str(user.pk), channel=self.channel_name)
        except Exception:  # presence is informative: a Redis hiccup must not cost the connection
            logger.warning("presence update failed on connect", exc_info=True)
        logger.info("websocket connected", extra={"user_id": str(user.pk), "path": self.scope.get("path")})

    async def _join_as(self, auth: Any) -> None:
        user: User = auth.user
        # Join the session group first, then look at the session again: a logout between the middleware's check
        # and this join would otherwise leave the socket open with nobody to close it.
        await self.group_join(session_group(auth.session_id))
        async with redis_slot():
            (session_user,) = await session_fields(auth.session_id, "uid")
        if session_user != str(user.pk):
            raise SessionRevoked()
        await self.group_join(user_group(user.pk))
        # The permission set was read with the token a moment ago; push delivery checks it again.
        if auth.allows(TASK_RUNS_PERMISSION):
            await self.group_join(TASK_RUNS_GROUP)
        self.user, self.session_id = user, auth.session_id

    async def disconnect(self, code: int) -> None:
        await self._leave_all_groups()
        self.rooms.clear()
        if self.user is None:
            return
        try:
            await tracker.disconnected(user_id=str(self.user.pk), channel=self.channel_name)
        except Exception:
            logger.warning("presence update failed on disconnect", exc_info=True)
        logger.info("websocket disconnected", extra={"user_id": str(self.user.pk), "close_code": code})

    async def _refuse(self, subprotocol: str | None, code: int, reason: str) -> None:
        self._closing = True
        await self.accept(subprotocol)
        await self.close(code=code, reason=reason)

    # --- groups ----------------------------------------------------------------------------------------------

    async def group_join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self._groups.add(group)

    async def group_leave(self, group: str) -> None:
        self._groups.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def _leave_all_groups(self) -> None:
        for group in list(self._groups):
            await self.group_leave(group)

    # --- frames ----------------------------------------------------------------------------------------------

    async def send_frame(self, frame: dict[str, Any]) -> None:
        if not self._closing:
            await self.send(text_data=frames.encode(frame))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None or self._closing:
            return
        try:
            frame = frames.parse(text_data, bytes_data, max_bytes=settings.WS_MAX_FRAME_BYTES)
        except frames.FrameError as exc:
            await self.send_frame(
                frames.error(exc.code, exc.message, event=exc.event, detail=exc.detail, frame_id=exc.frame_id)
            )
            return
        context = HandlerContext(
            user=self.user, scope=self.scope, connection=self, event=frame.event, frame_id=frame.id
        )
        reply = await self.registry.dispatch(frame, context)
        if reply is not None:
            await self.send_frame(reply)

    # --- channel-layer messages ---------------------------------------------------------------------------

    async def push_event(self, message: dict[str, Any]) -> None:
        """{"type": "push.event", "event", "data"} from a group this socket is in -> {"event", "data"}."""
        if self.user is None:
            return
        event = message.get("event")
        if not isinstance(event, str) or event in ("ack", "error"):
            return
        # Permissions can be taken away while a socket is open: check at delivery, not only at join.
        if event == TASK_RUN_EVENT and not await self.registry.permission_check(self.user, TASK_RUNS_PERMISSION):
            return
        text = message.get("text")
        if not isinstance(text, str):  # a push built elsewhere than push_to_group
            text = frames.encode(frames.push(event, message.get("data")))
        if not self._closing:
            await self.send(text_data=text)

    async def session_revoked(self, message: dict[str, Any]) -> None:
        """The socket's session ended (logout, password change, force logout ...): tell the client, close 4401."""
        if self._closing:
            return
        reason = message.get("reason") or None
        await self.send_frame(frames.push(SESSION_REVOKED_EVENT, {"reason": reason} if reason else None))
        self._closing = True
        await self.close(code=CLOSE_UNAUTHENTICATED, reason=f"{int(ErrorCode.SESSION_REVOKED)} Session revoked")
