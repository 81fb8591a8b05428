"""The client's IP address, taking X-Forwarded-For into account only from trusted proxies (django-ipware)."""

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    if not settings.TRUSTED_PROXIES and not settings.PROXY_COUNT:
        # No proxy configured: forwarded headers are client-controlled, so only the socket peer counts.
        remote = request.META.get("REMOTE_ADDR")
        return str(remote) if remote else None
    ip, _routable = get_client_ip(
        request,
        proxy_count=settings.PROXY_COUNT or None,
        proxy_trusted_ips=settings.TRUSTED_PROXIES or None,
    )
    return ip
