"""Websocket routing for /ws/."""

from typing import Any

from channels.routing import URLRouter


def build_websocket_application() -> Any:
    return URLRouter([])
