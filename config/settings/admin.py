"""The admin console (django-unfold): titles, dashboard, sidebar."""

from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _

from apps.core.paths import API_ROOT, DOCS_PATH, OPENAPI_PATH

from .env import env

ADMIN_SITE_TITLE: str = env.str("ADMIN_SITE_TITLE", default="Ninja Admin Platform")
UNFOLD = {
    "SITE_TITLE": ADMIN_SITE_TITLE,
    "SITE_HEADER": ADMIN_SITE_TITLE,
    "SHOW_HISTORY": True,
    "DASHBOARD_CALLBACK": "apps.console.dashboard.dashboard_callback",  # KPI cards and charts on the index
    "SHOW_LANGUAGES": True,  # the language switcher (settings.LANGUAGES, Django's set_language at /i18n/)
    # Callables: the static URL is resolved per request, once the storage (and its manifest) is set up.
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": lambda request: static("console/favicon.svg")},
    ],
    "SITE_ICON": {
        "light": lambda request: static("console/favicon.svg"),
        "dark": lambda request: static("console/favicon.svg"),
    },
    "SITE_SYMBOL": "hub",  # shown where the icon is not
    "SITE_DROPDOWN": [
        {"icon": "api", "title": _("API docs"), "link": API_ROOT + DOCS_PATH, "attrs": {"target": "_blank"}},
        {"icon": "data_object", "title": _("OpenAPI schema"), "link": API_ROOT + OPENAPI_PATH},
    ],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        # Built per request: every entry is gated by its page's own view permission.
        "navigation": "apps.console.navigation.sidebar_navigation",
    },
}

# A sign-in on /admin/login/ without ?next= lands on the admin index, not Django's /accounts/profile/ (no such page).
LOGIN_REDIRECT_URL = "/admin/"
