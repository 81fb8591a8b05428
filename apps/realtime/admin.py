"""Presence in the admin: a mixin for the users admin showing each user's open websocket connections."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest

from apps.realtime.presence import online_connection_counts

ONLINE_ATTR = "_online_connections"


class OnlineConnectionsAdminMixin:
    """Adds the `online_connections` column; counts for a whole page come from one Redis round trip."""

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist: ChangeList = super().get_changelist_instance(request)  # type: ignore[misc]
        users = list(changelist.result_list)  # evaluates (and caches) the page the template will render
        try:
            counts = online_connection_counts(user.pk for user in users)
        except Exception:  # presence is informative: the list still renders without it
            counts = {}
        for user in users:
            setattr(user, ONLINE_ATTR, counts.get(str(user.pk)))
        return changelist

    @admin.display(description="Online")
    def online_connections(self, obj: Any) -> str:
        count = getattr(obj, ONLINE_ATTR, None)
        if count is None:
            return "-"
        return f"{count} connection{'s' if count != 1 else ''}" if count else "offline"
