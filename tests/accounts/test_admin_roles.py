"""The role admin: settings saved on creation, non-API permissions kept, members shown, the API's guard rails."""

import json
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.authz import global_version_key
from apps.accounts.models import Role, RoleProfile, User
from apps.core.redis import sync_redis
from tests.accounts.test_admin_access import client_for, seed, staff_with_codes
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/accounts/role/add/"
LIST = "/admin/accounts/role/"
EDITOR_CODES = (
    "GET:/api/v1/roles",
    "GET:/api/v1/roles/{role_id}",
    "GET:/api/v1/permissions",
    "POST:/api/v1/roles",
    "PATCH:/api/v1/roles/{role_id}",
    "GET:/api/v1/users",
)


def change(role: Role) -> str:
    return f"/admin/accounts/role/{role.pk}/change/"


def api_ids(*codes: str) -> list[str]:
    return [str(pk) for pk in Permission.objects.filter(codename__in=codes).values_list("pk", flat=True)]


def manage_all_files() -> Permission:
    return Permission.objects.get(content_type__app_label="storage", codename="manage_all_files")


def role_form(
    role: Role | None,
    *,
    name: str,
    permissions: list[str],
    other: list[str] | None = None,
    description: str = "",
    is_active: bool = True,
) -> dict[str, Any]:
    exists = role is not None and RoleProfile.objects.filter(group=role).exists()
    data: dict[str, Any] = {
        "name": name,
        "permissions": permissions,
        "other_permissions": other or [],
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1" if exists else "0",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-description": description,
        "_save": "Save",
    }
    if role is not None:
        data["profile-0-group"] = str(role.pk)
    if is_active:
        data["profile-0-is_active"] = "on"
    return data


def codes_of(role: Role) -> set[str]:
    return set(Role.objects.get(pk=role.pk).permissions.values_list("codename", flat=True))


@pytest.fixture
def root(settings: Any) -> User:
    return seed(settings)


@pytest.fixture
def as_root(root: User) -> Client:
    return client_for(root)


# --- defect: adding a role with settings answered 500 (NULL created_at) ----------------------------------


@pytest.mark.parametrize(("description", "is_active"), [("Runs the night shift", True), ("", False), ("both", False)])
def test_adding_a_role_with_settings_saves_them(as_root, description, is_active):
    data = role_form(None, name="night", permissions=api_ids("GET:/api/v1/roles"), description=description)
    if not is_active:
        data.pop("profile-0-is_active")
    response = as_root.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    profile = RoleProfile.objects.get(group__name="night")
    assert (profile.description, profile.is_active) == (description, is_active)
    assert profile.created_at is not None and profile.updated_at is not None
    assert RoleProfile.objects.filter(group__name="night").count() == 1
    assert codes_of(Role.objects.get(name="night")) == {"GET:/api/v1/roles"}


def test_adding_a_role_without_touching_its_settings_gives_the_defaults(as_root):
    response = as_root.post(ADD, role_form(None, name="plain", permissions=[]))
    assert response.status_code == 302
    profile = RoleProfile.objects.get(group__name="plain")
    assert (profile.description, profile.is_active) == ("", True)


def test_a_role_form_with_a_duplicate_name_is_a_form_error(as_root):
    response = as_root.post(ADD, role_form(None, name="read-only", permissions=[]))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


# --- defect: saving a role dropped its non-API permissions ------------------------------------------------


def test_the_role_form_offers_other_permissions_and_keeps_them(as_root):
    role = async_to_sync(grant)(None, "GET:/api/v1/files", name="files")
    role.permissions.add(manage_all_files())
    page = as_root.get(change(role)).content.decode()
    other = str(manage_all_files().pk)
    assert "storage.manage_all_files" in page
    assert re.search(rf'<input[^>]*name="other_permissions"[^>]*value="{other}"[^>]*checked', page)

    # An edit of the API codes keeps the other permission the form shows ticked.
    data = role_form(role, name="files", permissions=api_ids("GET:/api/v1/files", "GET:/api/v1/files/{file_id}"))
    data["other_permissions"] = [other]
    assert as_root.post(change(role), data).status_code == 302
    assert codes_of(role) == {"GET:/api/v1/files", "GET:/api/v1/files/{file_id}", "manage_all_files"}
    # Unticking it removes it; ticking it again grants it.
    assert (
        as_root.post(change(role), role_form(role, name="files", permissions=api_ids("GET:/api/v1/files"))).status_code
        == 302
    )
    assert codes_of(role) == {"GET:/api/v1/files"}
    again = role_form(role, name="files", permissions=api_ids("GET:/api/v1/files"), other=[other])
    assert as_root.post(change(role), again).status_code == 302
    assert "manage_all_files" in codes_of(role)


def test_other_permissions_lists_only_permissions_no_api_code_decides(as_root):
    role = async_to_sync(grant)(None, name="empty")
    page = as_root.get(change(role)).content.decode()
    offered = re.findall(r'name="other_permissions"[^>]*value="(\d+)"', page)
    labels = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(pk__in=offered).select_related("content_type")
    }
    assert "storage.manage_all_files" in labels
    assert not any(":" in label for label in labels)  # API codes have their own field
    assert "accounts.view_user" not in labels and "console.kick_onlineuser" not in labels  # derived from API codes


def test_saving_a_role_keeps_permissions_the_form_does_not_offer(as_root):
    role = async_to_sync(grant)(None, "GET:/api/v1/roles", name="legacy")
    view_user = Permission.objects.get(content_type__app_label="accounts", codename="view_user")
    role.permissions.add(view_user)  # granted outside the form (a shell, an older release)
    assert (
        as_root.post(
            change(role), role_form(role, name="legacy2", permissions=api_ids("GET:/api/v1/roles"))
        ).status_code
        == 302
    )
    assert codes_of(role) == {"GET:/api/v1/roles", "view_user"}


def test_the_api_keeps_non_api_permissions_too(client_headers):
    client, headers = client_headers
    role = async_to_sync(grant)(None, "GET:/api/v1/files", name="api-files")
    role.permissions.add(manage_all_files())
    body = json.dumps({"permissions": ["GET:/api/v1/roles"]})
    response = client.patch(f"/api/v1/roles/{role.pk}", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["permissions"] == ["GET:/api/v1/roles"]
    assert codes_of(role) == {"GET:/api/v1/roles", "manage_all_files"}


@pytest.fixture
def client_headers(root: User) -> tuple[Client, dict[str, str]]:
    return Client(), async_to_sync(bearer_headers)(root)


# --- guard rails: nobody grants what they lack ----------------------------------------------------------


def test_a_staff_editor_grants_only_codes_they_hold(root):
    editor, _role = staff_with_codes("editor", *EDITOR_CODES)
    client = client_for(editor)
    target = async_to_sync(grant)(None, "GET:/api/v1/roles", "DELETE:/api/v1/users/{user_id}", name="target")

    # A code the editor lacks: a form error, nothing saved.
    wanted = api_ids("GET:/api/v1/roles", "DELETE:/api/v1/users/{user_id}", "POST:/api/v1/users")
    response = client.post(change(target), role_form(target, name="target", permissions=wanted))
    assert response.status_code == 200
    assert "You cannot grant permissions you do not hold: POST:/api/v1/users" in response.content.decode()
    assert codes_of(target) == {"GET:/api/v1/roles", "DELETE:/api/v1/users/{user_id}"}

    # Codes they hold, while keeping one they lack that the role already had: allowed.
    wanted = api_ids("GET:/api/v1/roles", "DELETE:/api/v1/users/{user_id}", "GET:/api/v1/users")
    response = client.post(change(target), role_form(target, name="target", permissions=wanted))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert codes_of(target) == {"GET:/api/v1/roles", "DELETE:/api/v1/users/{user_id}", "GET:/api/v1/users"}

    # A new role with a code they lack: refused the same way.
    response = client.post(ADD, role_form(None, name="sneaky", permissions=api_ids("POST:/api/v1/users")))
    assert response.status_code == 200 and not Role.objects.filter(name="sneaky").exists()


def test_a_staff_editor_grants_other_permissions_only_when_they_hold_them(root):
    editor, editor_role = staff_with_codes("editor", *EDITOR_CODES)
    client = client_for(editor)
    target = async_to_sync(grant)(None, name="target")
    other = [str(manage_all_files().pk)]
    response = client.post(change(target), role_form(target, name="target", permissions=[], other=other))
    assert response.status_code == 200
    assert "storage.manage_all_files" in response.content.decode()
    assert "manage_all_files" not in codes_of(target)

    editor_role.permissions.add(manage_all_files())
    client = client_for(User.objects.get(pk=editor.pk))
    response = client.post(change(target), role_form(target, name="target", permissions=[], other=other))
    assert response.status_code == 302
    assert "manage_all_files" in codes_of(target)


def test_role_pages_need_the_role_codes(root):
    lister, _role = staff_with_codes(
        "lister", "GET:/api/v1/roles", "GET:/api/v1/roles/{role_id}", "GET:/api/v1/permissions"
    )
    client = client_for(lister)
    role = Role.objects.get(name="read-only")
    assert client.get(LIST).status_code == 200
    page = client.get(change(role))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change(role), role_form(role, name="renamed", permissions=[])).status_code == 403
    assert client.get(ADD).status_code == 403
    assert Role.objects.filter(name="read-only").exists()


# --- who a role affects -----------------------------------------------------------------------------------


def test_the_role_page_lists_its_members_with_links_and_the_list_counts_them(as_root):
    role = Role.objects.get(name="read-only")
    members = [UserFactory(username=f"member{i}") for i in range(3)]
    inactive = UserFactory(username="gone", is_active=False)
    for user in [*members, inactive]:
        user.groups.add(role)
    page = as_root.get(change(role)).content.decode()
    for user in members:
        assert f'href="/admin/accounts/user/{user.pk}/change/"' in page
    assert re.search(r">gone</a> \(inactive\)", page)
    assert f"/admin/accounts/user/?groups__id__exact={role.pk}" in page
    listing = as_root.get(LIST).content.decode()
    assert re.search(rf'groups__id__exact={role.pk}">\s*4\s*<', listing)
    filtered = as_root.get(f"/admin/accounts/user/?groups__id__exact={role.pk}").content.decode()
    assert all(user.username in filtered for user in members)
    empty = async_to_sync(grant)(None, name="nobody")
    assert "Nobody holds this role." in as_root.get(change(empty)).content.decode()


# --- cache invalidation ------------------------------------------------------------------------------------


def test_role_edits_in_the_admin_bump_the_global_version_and_reach_the_api(as_root):
    holder = UserFactory(username="holder")
    role = async_to_sync(grant)(holder, name="growing")
    headers = async_to_sync(bearer_headers)(holder)
    api = Client()
    assert api.get("/api/v1/roles", headers=headers).status_code == 403
    before = int(sync_redis().get(global_version_key()) or 0)
    assert (
        as_root.post(
            change(role), role_form(role, name="growing", permissions=api_ids("GET:/api/v1/roles"))
        ).status_code
        == 302
    )
    assert int(sync_redis().get(global_version_key()) or 0) > before
    assert api.get("/api/v1/roles", headers=headers).status_code == 200
    data = role_form(role, name="growing", permissions=api_ids("GET:/api/v1/roles"), is_active=False)
    assert as_root.post(change(role), data).status_code == 302
    assert api.get("/api/v1/roles", headers=headers).status_code == 403
