"""FastAPI-style parameter injection for websocket event handlers, built on FastDepends.

A handler's parameters are resolved per frame:
- one pydantic model parameter receives the frame's validated `data`;
- `Depends(dep)` resolves sync, async and generator dependencies (teardown in reverse order, also on errors);
- the markers `CurrentUser`, `Scope`, `Connection`, `EventName` and `FrameId` give the connection's context.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Protocol, Union, get_args, get_origin, get_type_hints

from fast_depends import Depends, Provider, inject
from fast_depends.dependencies import Dependant
from fast_depends.exceptions import ValidationError as InjectionValidationError
from fast_depends.library import CustomField
from pydantic import BaseModel

from apps.accounts.models import User

__all__ = [
    "Connection",
    "CurrentUser",
    "Depends",
    "EventName",
    "FrameId",
    "HandlerContext",
    "InjectedHandler",
    "InjectionValidationError",
    "RealtimeConnection",
    "Scope",
    "validation_items",
]

# The keyword under which the dispatcher hands the context to the injected call; markers read it from there.
CONTEXT_KWARG = "__realtime_context__"


class RealtimeConnection(Protocol):
    """What a handler may use of its socket (apps.realtime.consumers.RealtimeConsumer is one)."""

    rooms: set[str]

    async def group_join(self, group: str) -> None: ...

    async def group_leave(self, group: str) -> None: ...


@dataclass(frozen=True)
class HandlerContext:
    """What one frame's handler call may ask for."""

    user: User
    scope: dict[str, Any]
    connection: RealtimeConnection | None
    event: str
    frame_id: str | None = None


class _ContextValue(CustomField):
    """A marker resolved from the handler context (no validation: the values are trusted objects)."""

    def __init__(self, attribute: str) -> None:
        super().__init__(cast=False, required=True)
        self.attribute = attribute

    # Async on purpose: FastDepends awaits an async `use` on the loop, a sync one would cost a thread hop.
    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        context = kwargs.get(CONTEXT_KWARG)
        if not isinstance(context, HandlerContext):
            raise RuntimeError("realtime markers only resolve inside a dispatched handler call")
        assert self.param_name is not None
        kwargs[self.param_name] = getattr(context, self.attribute)
        return kwargs


CurrentUser = Annotated[User, _ContextValue("user")]
Scope = Annotated[dict[str, Any], _ContextValue("scope")]
Connection = Annotated[RealtimeConnection, _ContextValue("connection")]
EventName = Annotated[str, _ContextValue("event")]
FrameId = Annotated[str | None, _ContextValue("frame_id")]


def _is_injected(annotation: Any, default: Any) -> bool:
    if isinstance(default, Dependant | CustomField):
        return True
    if get_origin(annotation) is Annotated:
        return any(isinstance(meta, Dependant | CustomField) for meta in get_args(annotation)[1:])
    return False


def _is_model(annotation: Any) -> bool:
    """A pydantic model, possibly Annotated or optional (`Model | None`)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(members) == 1 and _is_model(members[0])
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _payload_parameter(func: Callable[..., Any]) -> str | None:
    """The one parameter that takes the frame's `data`: a pydantic model that is not a marker or dependency."""
    try:
        hints = get_type_hints(func, include_extras=True)
    except NameError:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    payload: str | None = None
    for name, parameter in inspect.signature(func).parameters.items():
        annotation = hints.get(name, parameter.annotation)
        if _is_injected(annotation, parameter.default):
            continue
        if _is_model(annotation):
            if payload is not None:
                raise TypeError(f"{func.__qualname__}: only one parameter may take the frame data ({payload}, {name})")
            payload = name
            continue
        raise TypeError(
            f"{func.__qualname__}: parameter {name!r} must be a pydantic model (the frame data), a marker "
            "(CurrentUser, Scope, Connection, EventName, FrameId) or Depends(...)"
        )
    return payload


class InjectedHandler:
    """An async handler compiled once for injection; `call` runs it for one frame."""

    def __init__(self, func: Callable[..., Awaitable[Any]], *, provider: Provider) -> None:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"{func.__qualname__}: event handlers must be async functions")
        self.func = func
        self.payload_param = _payload_parameter(func)
        # Return values are acks: serialised by the dispatcher, not validated against the return annotation.
        self._call = inject(func, cast_result=False, dependency_provider=provider)

    async def call(self, context: HandlerContext, data: Any) -> Any:
        kwargs: dict[str, Any] = {CONTEXT_KWARG: context}
        if self.payload_param is not None and data is not None:
            kwargs[self.payload_param] = data
        return await self._call(**kwargs)

    def validation_items(self, error: InjectionValidationError) -> list[dict[str, Any]]:
        return validation_items(error, payload_param=self.payload_param)


def validation_items(error: InjectionValidationError, *, payload_param: str | None) -> list[dict[str, Any]]:
    """Pydantic errors as the contract's {loc, msg} items, the payload parameter renamed to `data`."""
    original = error.original_error
    raw = original.errors(include_input=False) if hasattr(original, "errors") else []
    items: list[dict[str, Any]] = []
    for item in raw:
        loc = list(item.get("loc", ()))
        if loc and loc[0] == payload_param:
            loc[0] = "data"
        items.append({"loc": loc, "msg": str(item.get("msg", "invalid"))})
    return items or [{"loc": ["data"], "msg": "invalid"}]
