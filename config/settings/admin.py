"""The admin console (django-unfold): titles, dashboard, sidebar."""

from .env import env

ADMIN_SITE_TITLE: str = env.str("ADMIN_SITE_TITLE", default="Ninja Admin Platform")
UNFOLD = {
    "SITE_TITLE": ADMIN_SITE_TITLE,
    "SITE_HEADER": ADMIN_SITE_TITLE,
    "SHOW_HISTORY": True,
}
