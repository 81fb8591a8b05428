"""The event registry: handlers registered per event name, and the dispatch of one client frame to its handler."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fast_depends import Provider

from apps.accounts.models import User
from apps.core.exceptions import DomainError, ErrorCode
from apps.realtime import frames
from apps.realtime.gate import redis_slot
from apps.realtime.injection import HandlerContext, InjectedHandler, InjectionValidationError

logger = logging.getLogger("apps.realtime")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
PermissionCheck = Callable[[User, str], Awaitable[bool]]


@dataclass(frozen=True)
class RegisteredEvent:
    name: str
    handler: InjectedHandler
    permission: str | None


async def _user_has_permission(user: User, code: str) -> bool:
    from apps.accounts.rbac import user_has_permission

    async with redis_slot():
        return await user_has_permission(user, code)


class EventRegistry:
    """Handlers per event name. `provider` overrides dependencies (e.g. `registry.provider.override(dep, fake)`)."""

    def __init__(self, *, permission_check: PermissionCheck = _user_has_permission) -> None:
        self.provider = Provider()
        self.permission_check = permission_check
        self._events: dict[str, RegisteredEvent] = {}

    def on(self, name: str, *, permission: str | None = None) -> Callable[[F], F]:
        """Register an async handler for `name`; `permission` is an API permission code the user must hold."""
        if not name or len(name) > frames.MAX_EVENT_LENGTH or name in ("ack", "error"):
            raise ValueError(f"invalid event name {name!r}")

        def register(func: F) -> F:
            if name in self._events:
                raise ValueError(f"event {name!r} already has a handler")
            self._events[name] = RegisteredEvent(
                name=name, handler=InjectedHandler(func, provider=self.provider), permission=permission
            )
            return func

        return register

    def get(self, name: str) -> RegisteredEvent | None:
        return self._events.get(name)

    def names(self) -> list[str]:
        return sorted(self._events)

    async def dispatch(self, frame: frames.Frame, context: HandlerContext) -> dict[str, Any] | None:
        """Run the frame's handler; the reply frame (ack, error) or None when there is nothing to say."""
        registered = self._events.get(frame.event)
        if registered is None:
            return frames.error(
                ErrorCode.NOT_FOUND, f"Unknown event {frame.event!r}", event=frame.event, frame_id=frame.id
            )
        try:
            if registered.permission and not await self.permission_check(context.user, registered.permission):
                return frames.error(ErrorCode.PERMISSION_DENIED, event=frame.event, frame_id=frame.id)
            result = await registered.handler.call(context, frame.data)
            reply = None if frame.id is None else frames.ack(frame.id, frames.jsonable(result))
        except InjectionValidationError as exc:
            return frames.error(
                ErrorCode.VALIDATION_ERROR,
                event=frame.event,
                detail=registered.handler.validation_items(exc),
                frame_id=frame.id,
            )
        except DomainError as exc:
            return frames.error(exc.code, exc.message, event=frame.event, detail=exc.data, frame_id=frame.id)
        except Exception:
            logger.exception("websocket handler failed", extra={"event_name": frame.event})
            return frames.error(ErrorCode.INTERNAL_ERROR, event=frame.event, frame_id=frame.id)
        return reply


events = EventRegistry()
