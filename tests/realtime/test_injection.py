"""Unit tests of handler injection: payload models, dependencies, teardown order, markers and error frames."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from apps.accounts.models import User
from apps.core.exceptions import Conflict
from apps.realtime.events import EventRegistry
from apps.realtime.frames import Frame
from apps.realtime.injection import (
    Connection,
    CurrentUser,
    Depends,
    EventName,
    FrameId,
    HandlerContext,
    Scope,
)


class Greeting(BaseModel):
    name: str = Field(min_length=1)
    times: int = 1


async def allow_all(user: User, code: str) -> bool:
    return True


def make_registry(**kwargs: Any) -> EventRegistry:
    return EventRegistry(permission_check=kwargs.pop("permission_check", allow_all))


def context(event: str, frame_id: str | None = "1", **kwargs: Any) -> HandlerContext:
    return HandlerContext(
        user=kwargs.pop("user", User(username="alice")),
        scope=kwargs.pop("scope", {"type": "websocket", "path": "/ws/"}),
        connection=kwargs.pop("connection", None),
        event=event,
        frame_id=frame_id,
    )


async def dispatch(registry: EventRegistry, event: str, data: Any = None, frame_id: str | None = "1", **kw: Any):
    return await registry.dispatch(Frame(event=event, data=data, id=frame_id), context(event, frame_id, **kw))


async def test_injection_model_parameter_receives_validated_data():
    registry = make_registry()

    @registry.on("greet")
    async def greet(msg: Greeting) -> str:
        assert isinstance(msg, Greeting)
        return " ".join([f"hello {msg.name}"] * msg.times)

    reply = await dispatch(registry, "greet", {"name": "bob", "times": 2}, frame_id="a-1")
    assert reply == {"event": "ack", "id": "a-1", "data": "hello bob hello bob"}


async def test_injection_invalid_data_answers_42200_with_data_locations():
    registry = make_registry()
    called = []

    @registry.on("greet")
    async def greet(msg: Greeting) -> None:
        called.append(msg)

    reply = await dispatch(registry, "greet", {"name": "", "times": "many"}, frame_id="x")
    assert called == []
    assert reply["event"] == "error" and reply["id"] == "x"
    assert reply["data"]["code"] == 42200
    assert reply["data"]["event"] == "greet"
    locs = sorted(item["loc"] for item in reply["data"]["detail"])
    assert locs == [["data", "name"], ["data", "times"]]
    assert all(isinstance(item["msg"], str) and item["msg"] for item in reply["data"]["detail"])


async def test_injection_missing_data_for_a_model_is_a_validation_error():
    registry = make_registry()

    @registry.on("greet")
    async def greet(msg: Greeting) -> None:
        raise AssertionError("not reached")

    reply = await dispatch(registry, "greet", None)
    assert reply["data"]["code"] == 42200
    assert reply["data"]["detail"][0]["loc"] == ["data"]

    reply = await dispatch(registry, "greet", ["not", "an", "object"])
    assert reply["data"]["code"] == 42200
    assert reply["data"]["detail"][0]["loc"] == ["data"]


async def test_injection_optional_model_defaults_when_no_data():
    registry = make_registry()

    @registry.on("greet")
    async def greet(msg: Greeting | None = None) -> str:
        return "nobody" if msg is None else msg.name

    assert (await dispatch(registry, "greet"))["data"] == "nobody"
    assert (await dispatch(registry, "greet", {"name": "eve"}))["data"] == "eve"


async def test_injection_resolves_sync_async_and_generator_dependencies_with_reverse_teardown():
    registry = make_registry()
    log: list[str] = []

    def sync_dep() -> str:
        log.append("sync")
        return "s"

    async def async_dep() -> str:
        log.append("async")
        return "a"

    def sync_gen() -> Iterator[str]:
        log.append("sync_gen:setup")
        yield "sg"
        log.append("sync_gen:teardown")

    async def async_gen() -> AsyncIterator[str]:
        log.append("async_gen:setup")
        yield "ag"
        log.append("async_gen:teardown")

    @registry.on("deps")
    async def handler(
        first: str = Depends(sync_gen),
        second: str = Depends(async_gen),
        third: str = Depends(sync_dep),
        fourth: str = Depends(async_dep),
    ) -> list[str]:
        log.append("handler")
        return [first, second, third, fourth]

    reply = await dispatch(registry, "deps")
    assert reply["data"] == ["sg", "ag", "s", "a"]
    assert log == [
        "sync_gen:setup",
        "async_gen:setup",
        "sync",
        "async",
        "handler",
        "async_gen:teardown",
        "sync_gen:teardown",
    ]


async def test_injection_teardown_runs_in_reverse_order_when_the_handler_raises():
    registry = make_registry()
    log: list[str] = []

    def outer() -> Iterator[str]:
        try:
            yield "outer"
        except Conflict as exc:
            log.append(f"outer saw {type(exc).__name__}")
            raise
        finally:
            log.append("outer:teardown")

    async def inner(parent: str = Depends(outer)) -> AsyncIterator[str]:
        try:
            yield f"{parent}/inner"
        finally:
            log.append("inner:teardown")

    @registry.on("boom")
    async def boom(value: str = Depends(inner)) -> None:
        log.append(f"handler got {value}")
        raise Conflict("already there", data={"key": "k"})

    reply = await dispatch(registry, "boom", frame_id="7")
    assert reply == {
        "event": "error",
        "id": "7",
        "data": {"code": 40900, "message": "already there", "event": "boom", "detail": {"key": "k"}},
    }
    assert log == ["handler got outer/inner", "inner:teardown", "outer saw Conflict", "outer:teardown"]


async def test_injection_teardown_of_entered_dependencies_when_a_later_one_fails():
    registry = make_registry()
    log: list[str] = []

    async def opened() -> AsyncIterator[str]:
        log.append("opened")
        try:
            yield "x"
        finally:
            log.append("closed")

    async def broken() -> str:
        raise RuntimeError("secret detail of the failure")

    @registry.on("half")
    async def half(a: str = Depends(opened), b: str = Depends(broken)) -> None:
        log.append("handler")

    reply = await dispatch(registry, "half")
    assert reply["data"]["code"] == 50000
    assert reply["data"]["message"] == "Internal server error"
    assert "secret" not in str(reply)
    assert log == ["opened", "closed"]


async def test_injection_dependency_is_cached_within_one_call_only():
    registry = make_registry()
    calls: list[int] = []

    async def counter() -> int:
        calls.append(1)
        return len(calls)

    async def uses_counter(n: int = Depends(counter)) -> int:
        return n

    @registry.on("count")
    async def count(a: int = Depends(counter), b: int = Depends(uses_counter)) -> list[int]:
        return [a, b]

    assert (await dispatch(registry, "count"))["data"] == [1, 1]
    assert (await dispatch(registry, "count"))["data"] == [2, 2]


async def test_injection_markers_give_user_scope_connection_event_and_frame_id():
    registry = make_registry()
    user = User(username="carol")
    connection = object()

    @registry.on("who")
    async def who(
        me: CurrentUser, scope: Scope, conn: Connection, event: EventName, frame_id: FrameId
    ) -> dict[str, Any]:
        return {
            "user": me.username,
            "path": scope["path"],
            "same_connection": conn is connection,
            "event": event,
            "frame_id": frame_id,
        }

    reply = await dispatch(registry, "who", frame_id="f", user=user, connection=connection)
    assert reply["data"] == {"user": "carol", "path": "/ws/", "same_connection": True, "event": "who", "frame_id": "f"}


async def test_injection_markers_resolve_inside_dependencies():
    registry = make_registry()

    def username(user: CurrentUser) -> str:  # a sync dependency reading a marker
        return user.username.upper()

    async def greeting(msg: Greeting, name: str = Depends(username)) -> str:
        return f"{name} greets {msg.name}"

    @registry.on("greet")
    async def greet(msg: Greeting, text: str = Depends(greeting)) -> str:
        return text

    reply = await dispatch(registry, "greet", {"name": "bob"}, user=User(username="dave"))
    assert reply["data"] == "DAVE greets bob"


async def test_injection_return_values_become_json_acks():
    registry = make_registry()

    @registry.on("model")
    async def model() -> Greeting:
        return Greeting(name="zed", times=3)

    @registry.on("nothing")
    async def nothing() -> None:
        return None

    assert (await dispatch(registry, "model", frame_id="m"))["data"] == {"name": "zed", "times": 3}
    assert await dispatch(registry, "nothing", frame_id="n") == {"event": "ack", "id": "n", "data": None}


async def test_injection_without_frame_id_sends_no_ack_but_still_reports_errors():
    registry = make_registry()

    @registry.on("quiet")
    async def quiet(msg: Greeting) -> str:
        return "done"

    assert await dispatch(registry, "quiet", {"name": "a"}, frame_id=None) is None
    reply = await dispatch(registry, "quiet", {}, frame_id=None)
    assert reply["event"] == "error" and "id" not in reply
    assert reply["data"]["code"] == 42200


async def test_injection_unserialisable_return_value_is_an_internal_error():
    registry = make_registry()

    @registry.on("odd")
    async def odd() -> object:
        return object()

    reply = await dispatch(registry, "odd")
    assert reply["data"]["code"] == 50000


async def test_registry_unknown_event_answers_40400():
    reply = await dispatch(make_registry(), "nope", frame_id="q")
    assert reply["id"] == "q"
    assert reply["data"]["code"] == 40400
    assert reply["data"]["event"] == "nope"


async def test_registry_declared_permission_is_checked_before_the_handler_runs():
    asked: list[tuple[str, str]] = []

    async def only_admins(user: User, code: str) -> bool:
        asked.append((user.username, code))
        return user.username == "admin"

    registry = make_registry(permission_check=only_admins)
    ran: list[str] = []

    @registry.on("secret", permission="GET:/api/v1/task-runs")
    async def secret(msg: Greeting) -> str:
        ran.append(msg.name)
        return "ok"

    denied = await dispatch(registry, "secret", {"name": ""}, user=User(username="bob"))
    assert denied["data"]["code"] == 40300  # denied before validation: a denied caller learns nothing
    assert ran == []
    allowed = await dispatch(registry, "secret", {"name": "x"}, user=User(username="admin"))
    assert allowed["data"] == "ok"
    assert asked == [("bob", "GET:/api/v1/task-runs"), ("admin", "GET:/api/v1/task-runs")]


async def test_registry_dependency_overrides_through_the_provider():
    registry = make_registry()

    async def real_clock() -> str:
        return "real"

    @registry.on("time")
    async def now(clock: str = Depends(real_clock)) -> str:
        return clock

    async def fixed_clock() -> str:
        return "fixed"

    assert (await dispatch(registry, "time"))["data"] == "real"
    with registry.provider.scope(real_clock, fixed_clock):
        assert (await dispatch(registry, "time"))["data"] == "fixed"
    assert (await dispatch(registry, "time"))["data"] == "real"


def test_registry_refuses_handlers_it_cannot_inject():
    registry = make_registry()

    with pytest.raises(TypeError, match="async"):

        @registry.on("sync")  # type: ignore[type-var]
        def sync_handler() -> None:
            return None

    with pytest.raises(TypeError, match="'count'"):

        @registry.on("plain")
        async def plain(count: int) -> None:
            return None

    with pytest.raises(TypeError, match="only one parameter"):

        @registry.on("two")
        async def two(a: Greeting, b: Greeting) -> None:
            return None

    @registry.on("once")
    async def once() -> None:
        return None

    with pytest.raises(ValueError, match="already"):

        @registry.on("once")
        async def again() -> None:
            return None

    for bad in ("", "ack", "error", "x" * 101):
        with pytest.raises(ValueError):
            registry.on(bad)


async def test_markers_refuse_to_resolve_outside_a_dispatch():
    registry = make_registry()

    @registry.on("me")
    async def me(user: CurrentUser) -> str:
        return user.username

    handler = registry.get("me")
    assert handler is not None
    with pytest.raises(RuntimeError, match="inside a dispatched handler"):
        await handler.handler._call()
