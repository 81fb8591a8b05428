"""Which language a request is answered in: Django's LocaleMiddleware, cheap enough for API calls."""

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware import locale
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import trans_real

from apps.core.middleware import InlineHooksMixin, is_api_call


@functools.lru_cache(maxsize=1000)  # bounded: the header is client input
def language_from_accept_header(header: str) -> str:
    """The supported language an Accept-Language value asks for (zh, zh-CN, zh-Hans -> zh-hans), else the default.

    Django's own matching: q-values ordered, regional variants fall back to their script or generic code.
    """
    for code, quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            break
        if quality <= 0:  # q=0: "not this one" (RFC 9110)
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return translation.get_supported_language_variant(settings.LANGUAGE_CODE)


class LocaleMiddleware(InlineHooksMixin, locale.LocaleMiddleware):
    """Activates the request's language. Its hooks read headers and cookies only, so they run on the event loop
    (no thread hop). Pages follow Django (the `django_language` cookie set by the admin's language switcher, then
    Accept-Language); API calls follow Accept-Language alone, since bearer-token clients carry no cookies."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        # Load every catalog once, when the chain is built, so no request reads .mo files on the event loop.
        for code, _name in settings.LANGUAGES:
            trans_real.translation(code)
            trans_real.check_for_language(code)

    def process_request(self, request: HttpRequest) -> None:
        if not is_api_call(request):
            super().process_request(request)
            return
        translation.activate(language_from_accept_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")))
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if not is_api_call(request):
            return super().process_response(request, response)
        # What Django's does for a URL outside i18n_patterns (the API has none), without its path lookups.
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
