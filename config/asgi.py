"""ASGI entry point: HTTP through Django, websockets through Channels (apps.realtime)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from apps.core.startup import refuse_unsafe_start  # noqa: E402  (needs Django set up)
from apps.realtime.routing import build_websocket_application  # noqa: E402

refuse_unsafe_start()

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": build_websocket_application()})
