"""The admin sidebar: every page with its icon for a superuser, only the permitted pages for other staff."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory

from apps.accounts.models import Role, RoleProfile, User
from apps.console.navigation import PAGES, changelist_url, sidebar_navigation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DOCS = "/api/v1/docs"
EXPECTED = {  # every admin page of the platform: (changelist, icon)
    "/admin/": "dashboard",
    "/admin/accounts/user/": "person",
    "/admin/accounts/role/": "shield_person",
    "/admin/console/onlineuser/": "sensors",
    "/admin/audit/operationlogentry/": "receipt_long",
    "/admin/audit/loginlogentry/": "login",
    "/admin/django_celery_beat/periodictask/": "schedule",
    "/admin/scheduler/taskrunentry/": "play_circle",
    "/admin/django_celery_beat/intervalschedule/": "timer",
    "/admin/django_celery_beat/crontabschedule/": "event_repeat",
    "/admin/django_celery_beat/clockedschedule/": "alarm",
    "/admin/django_celery_beat/solarschedule/": "wb_twilight",
    "/admin/storage/storedfile/": "folder",
    DOCS: "api",
}


def _sidebar(html: str) -> dict[str, str]:
    """{href: icon} of the links in the sidebar's navigation block."""
    start = html.index('id="nav-sidebar-apps"')
    block = html[start : html.index("</nav>", start)]
    links = re.findall(
        r'<a href="([^"]+)"[^>]*>\s*<span class="material-symbols-outlined[^"]*">\s*([a-z_]+)\s*</span>', block
    )
    return dict(links)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _staff_with(username: str, *, codes: tuple[str, ...], perms: tuple[str, ...]) -> User:
    """Staff whose role holds these API codes and admin permissions (`app_label.codename`)."""
    user = UserFactory.create(username=username, is_staff=True)
    role = Role.objects.create(name=f"role-of-{username}")
    RoleProfile.objects.update_or_create(group=role, defaults={"is_active": True})
    api = list(Permission.objects.filter(content_type__model="apipermission", codename__in=codes))
    assert len(api) == len(codes)
    admin_perms = [
        Permission.objects.get(content_type__app_label=perm.split(".")[0], codename=perm.split(".")[1])
        for perm in perms
    ]
    role.permissions.set([*api, *admin_perms])
    user.groups.add(role)
    return user


def test_superuser_sees_every_page_with_its_icon_and_the_api_docs() -> None:
    root = UserFactory.create(username="sidebar-root", is_superuser=True, is_staff=True)
    response = _client(root).get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    sidebar = _sidebar(html)
    missing = {href: icon for href, icon in EXPECTED.items() if sidebar.get(href) != icon}
    assert not missing, (missing, sidebar)
    assert f'href="{DOCS}"' in html  # in the site dropdown as well


def test_every_sidebar_link_opens_for_the_superuser() -> None:
    root = UserFactory.create(username="sidebar-root2", is_superuser=True, is_staff=True)
    client = _client(root)
    for href in EXPECTED:
        if href != DOCS:
            assert client.get(href).status_code == 200, href


def test_favicon_and_site_icon_are_shipped() -> None:
    root = UserFactory.create(username="sidebar-root3", is_superuser=True, is_staff=True)
    html = _client(root).get("/admin/").content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*console/favicon\.svg" type="image/svg\+xml"', html)
    assert re.search(r'<img src="[^"]*console/favicon\.svg"', html)  # the site icon beside the title
    path = finders.find("console/favicon.svg")
    assert path is not None
    with open(path, encoding="utf-8") as svg:
        assert svg.read().lstrip().startswith("<svg")
    login = Client().get("/admin/login/").content.decode()
    assert "console/favicon.svg" in login  # the sign-in page has it too


def test_staff_see_only_the_pages_they_may_open() -> None:
    # A role that may read users only: the users page, the dashboard and the docs; nothing else.
    reader = _staff_with(
        "sidebar-reader",
        codes=("GET:/api/v1/users", "GET:/api/v1/users/{user_id}"),
        perms=("accounts.view_user",),
    )
    sidebar = _sidebar(_client(reader).get("/admin/").content.decode())
    assert set(sidebar) == {"/admin/", "/admin/accounts/user/", DOCS}


def test_staff_with_the_online_page_see_it_and_not_the_logs() -> None:
    watcher = _staff_with("sidebar-watcher", codes=("GET:/api/v1/users/online",), perms=("console.view_onlineuser",))
    client = _client(watcher)
    sidebar = _sidebar(client.get("/admin/").content.decode())
    assert "/admin/console/onlineuser/" in sidebar
    assert "/admin/audit/operationlogentry/" not in sidebar
    assert "/admin/accounts/user/" not in sidebar
    assert client.get("/admin/audit/operationlogentry/").status_code == 403  # hidden because it is refused


def test_navigation_leaves_out_unregistered_pages_and_gates_the_rest() -> None:
    nobody = UserFactory.create(username="sidebar-nobody", is_staff=True)
    request: Any = RequestFactory().get("/admin/")
    request.user = nobody
    groups = sidebar_navigation(request)
    items = [item for group in groups for item in group["items"]]
    for item in items:
        assert item["link"]  # every link resolves
    labels = {label for _title, pages in PAGES for _t, _i, label in pages}
    registered = {label for label in labels if _resolves(label)}
    assert len([i for i in items if i["link"].startswith("/admin/") and i["link"] != "/admin/"]) == len(registered)
    allowed = [item["title"] for item in items if item["permission"](request)]
    assert [str(title) for title in allowed] == ["Dashboard", "API docs"]


def _resolves(label: str) -> bool:
    try:
        changelist_url(label)
    except Exception:
        return False
    return True
