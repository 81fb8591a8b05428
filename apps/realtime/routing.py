"""Websocket routing for /ws/: origin check -> token authentication -> the consumer."""

from typing import Any

from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from apps.realtime.consumers import RealtimeConsumer
from apps.realtime.middleware import OriginGuard, TokenAuthMiddleware


def build_websocket_application() -> Any:
    return OriginGuard(
        TokenAuthMiddleware(
            URLRouter(
                [
                    path("ws/", RealtimeConsumer.as_asgi()),
                    # Any other websocket path is refused at the handshake (403) instead of erroring.
                    re_path(r"", WebsocketDenier.as_asgi()),
                ]
            )
        )
    )
