"""The dashboard's figures and the online-users lists (admin page, API, kicks) follow the operator's data scope."""

import re
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import Client

from apps.console import dashboard
from apps.console.selectors import Reach
from apps.org.selectors import scope_of_sync
from apps.realtime.presence import PresenceTracker
from tests.conftest import envelope_of
from tests.helpers import bearer_headers, tokens_for
from tests.org.conftest import API, World, give_scope

pytestmark = pytest.mark.django_db(transaction=True)

ONLINE_CODES = (f"GET:{API}/users/online", f"POST:{API}/users/{{user_id}}/logout")


def _cards(html: str) -> dict[str, str]:
    block = html[html.index('id="dashboard-cards"') :]
    pairs = re.findall(
        r'<p class="leading-relaxed mb-0 text-sm">\s*(.*?)\s*</p>\s*<div class="font-semibold[^"]*">\s*(.*?)\s*</div>',
        block,
        re.S,
    )
    return dict(pairs)


def _dashboard_of(user) -> dict[str, str]:
    reach = Reach(scope_of_sync(user))
    from django.core.cache import cache

    cache.delete_many([dashboard.cache_key(figure, reach) for figure in dashboard.FIGURES])
    browser = Client()
    browser.force_login(user)
    return _cards(browser.get("/admin/").content.decode())


async def _online_operator(world: World, kind: str):
    """The matrix's actor, whose scoped role also grants the online-users codes."""
    actor = await give_scope(world, kind)

    def add() -> None:
        scoped = actor.groups.order_by("-pk").first()
        scoped.permissions.add(
            *Permission.objects.filter(content_type__model="apipermission", codename__in=ONLINE_CODES)
        )

    await sync_to_async(add)()
    return actor


async def test_dashboard_figures_count_only_the_users_in_scope(world: World):
    actor = await _online_operator(world, "department")  # sees ua and themselves
    for name in ("ua", "ub", "ub1"):
        await tokens_for(world.users[name])  # a live session each
    cards = await sync_to_async(_dashboard_of)(actor)
    assert cards["API calls, last 24 h"] == "2"
    assert cards["Sign-ins, last 14 days"] == "2"
    assert cards["Task runs, last 24 h"] == "2"
    assert cards["Storage used"] == "2\xa0bytes"
    assert cards["Live sessions"] == "1"

    # Another operator's cached figures are never served: the whole-tree view sees every world user's records.
    wide = await give_scope(world, "all")
    assert wide.pk == actor.pk  # the same actor, now with an unscoped role as well
    wider = await sync_to_async(_dashboard_of)(actor)
    assert int(wider["API calls, last 24 h"].replace(",", "")) >= len(world.users)
    assert int(wider["Live sessions"].replace(",", "")) >= 3


def test_the_unscoped_reach_shares_the_global_cache_entry():
    first = Reach(None)
    assert first.everyone and dashboard.cache_key(dashboard.FIGURES[0], first) == dashboard.cache_key(
        dashboard.FIGURES[0]
    )


async def test_online_lists_and_kicks_follow_the_scope(client, world: World):
    actor = await _online_operator(world, "department")
    tracker = PresenceTracker()
    for name in ("ua", "ub"):
        await tracker.connected(user_id=str(world.users[name].pk), channel=f"test.{uuid.uuid4().hex}")
        await tokens_for(world.users[name])
    try:
        headers = await bearer_headers(actor)
        listed = envelope_of(await client.get(f"{API}/users/online?page_size=100", headers=headers))["data"]
        names = {item["user_id"] for item in listed["items"]}
        assert str(world.users["ua"].pk) in names and str(world.users["ub"].pk) not in names

        def admin_page() -> tuple[str, int, int]:
            browser = Client()
            browser.force_login(actor)
            html = browser.get("/admin/console/onlineuser/").content.decode()
            outside = browser.post("/admin/console/onlineuser/kick/", {"user": str(world.users["ub"].pk)})
            inside = browser.post("/admin/console/onlineuser/kick/", {"user": str(world.users["ua"].pk)})
            return html, outside.status_code, inside.status_code

        html, outside, inside = await sync_to_async(admin_page)()
        assert world.users["ua"].username in html and world.users["ub"].username not in html
        assert outside == inside == 302
        from apps.accounts.sessions import sessions_of

        assert await sessions_of(str(world.users["ub"].pk)) != []  # outside the scope: not found, kept
        assert await sessions_of(str(world.users["ua"].pk)) == []  # inside: ended
    finally:
        await tracker.stop()
