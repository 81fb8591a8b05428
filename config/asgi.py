"""ASGI entry point: HTTP through Django, websockets through Channels (apps.realtime)."""

import gc
import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, before our handler is built

from channels.routing import ProtocolTypeRouter  # noqa: E402

from apps.core.asgi import ASGIHandler  # noqa: E402
from apps.core.startup import refuse_unsafe_start  # noqa: E402  (needs Django set up)
from apps.realtime.routing import build_websocket_application  # noqa: E402

refuse_unsafe_start()

django_asgi_app: Any = ASGIHandler()  # Django's, without a thread per request (apps/core/asgi.py)

# Benchmarks only (scripts/bench/bench_baseline.py): a route answering /health's body without Django, the
# server's own limit on this machine. Never set in a deployment.
BENCH_BARE_PATH = "/bench/bare"
if os.environ.get("BENCH_BARE_ROUTE") == "true":
    # Byte for byte what /health answers (bench_baseline.py checks it before measuring).
    _bare_body = json.dumps({"code": 0, "message": "OK", "data": {"status": "ok"}}).encode()
    _bare_headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", b"%d" % len(_bare_body)),
    ]
    _django_http = django_asgi_app

    async def django_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != BENCH_BARE_PATH:
            await _django_http(scope, receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": _bare_headers})
        await send({"type": "http.response.body", "body": _bare_body})


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": build_websocket_application()})

# What start-up built (modules, settings, URL patterns, schemas) lives as long as the process. Left in the
# collector's oldest generation, every full pass walks all of it: a stall of ~150 ms every few broadcasts on a
# server holding hundreds of sockets (scripts/bench/bench_realtime.py).
gc.freeze()
