"""The application of config/asgi.py with Django's own ASGI handler instead of apps/core/asgi.py: the "before"
of bench_baseline.py --profile (a thread per request, request signals through sync_to_async)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from apps.realtime.routing import build_websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": build_websocket_application()})
