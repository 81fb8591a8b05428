"""The users-admin presence column: counts for a whole page in one call."""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin import AdminSite, ModelAdmin
from django.test import Client, RequestFactory

from apps.accounts.models import User
from apps.realtime.admin import OnlineConnectionsAdminMixin
from apps.realtime.presence import PresenceTracker
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class OnlineUserAdmin(OnlineConnectionsAdminMixin, ModelAdmin):
    list_display = ("username", "online_connections")


def test_admin_changelist_shows_open_connections_per_user():
    admin_user: User = UserFactory.create(username="admin-online", is_superuser=True, is_staff=True)
    online: User = UserFactory.create(username="online-twice")
    once: User = UserFactory.create(username="online-once")
    UserFactory.create(username="offline-user")
    tracker = PresenceTracker()
    async_to_sync(tracker.connected)(user_id=str(online.pk), channel="admin.test.1")
    async_to_sync(tracker.connected)(user_id=str(online.pk), channel="admin.test.2")
    async_to_sync(tracker.connected)(user_id=str(once.pk), channel="admin.test.3")
    try:
        model_admin = OnlineUserAdmin(User, AdminSite())
        request = RequestFactory().get("/admin/accounts/user/")
        request.user = admin_user
        changelist = model_admin.get_changelist_instance(request)
        shown = {user.username: model_admin.online_connections(user) for user in changelist.result_list}
        assert shown["online-twice"] == "2 connections"
        assert shown["online-once"] == "1 connection"
        assert shown["offline-user"] == "offline"
        assert model_admin.online_connections(User(username="never-listed")) == "-"
    finally:
        async_to_sync(tracker.disconnected)(user_id=str(online.pk), channel="admin.test.1")
        async_to_sync(tracker.disconnected)(user_id=str(online.pk), channel="admin.test.2")
        async_to_sync(tracker.disconnected)(user_id=str(once.pk), channel="admin.test.3")


def test_registered_users_admin_page_shows_the_online_column() -> None:
    admin_user: User = UserFactory.create(username="admin-page", is_superuser=True, is_staff=True)
    online: User = UserFactory.create(username="online-on-page")
    tracker = PresenceTracker()
    async_to_sync(tracker.connected)(user_id=str(online.pk), channel="admin.page.1")
    try:
        browser = Client()
        browser.force_login(admin_user)
        page = browser.get("/admin/accounts/user/").content.decode()
        assert "Online" in page
        assert "1 connection" in page
    finally:
        async_to_sync(tracker.disconnected)(user_id=str(online.pk), channel="admin.page.1")
