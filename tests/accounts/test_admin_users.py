"""The user admin under the API's guard rails: superuser-only fields, roles you may assign, no self-harm."""

import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group
from django.test import Client

from apps.accounts.authz import user_version_key
from apps.accounts.models import Role, User
from apps.accounts.sessions import sessions_of
from apps.core.redis import sync_redis
from tests.accounts.test_admin_access import _user_form, client_for, seed, staff_with_codes, staff_with_roles
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant, tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/accounts/user/"


def change(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def root(settings: Any) -> User:
    return seed(settings)


@pytest.fixture
def operator(root: User) -> User:
    """Staff with the seeded administrator role: every API permission, not a superuser."""
    return staff_with_roles("operator", "administrator")


def test_only_superusers_see_the_superuser_and_staff_fields(root, operator):
    bob = UserFactory(username="bob")
    operator_page = client_for(operator).get(change(bob)).content.decode()
    assert 'name="is_superuser"' not in operator_page and 'name="is_staff"' not in operator_page
    root_page = client_for(root).get(change(bob)).content.decode()
    assert 'name="is_superuser"' in root_page and 'name="is_staff"' in root_page

    # Posting them anyway changes nothing.
    response = client_for(operator).post(change(bob), _user_form(bob, is_superuser="on", is_staff="on"))
    assert response.status_code == 302
    assert not fresh(bob).is_superuser and not fresh(bob).is_staff


def test_superusers_are_read_only_for_everyone_else(root, operator):
    client = client_for(operator)
    page = client.get(change(root))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change(root), _user_form(root, email="taken@example.org")).status_code == 403
    assert client.get(f"/admin/accounts/user/{root.pk}/password/").status_code == 403
    assert client.post(f"/admin/accounts/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    assert fresh(root).email != "taken@example.org" and User.objects.filter(pk=root.pk).exists()


def test_the_last_active_superuser_keeps_the_flag(root):
    client = client_for(root)
    response = client.post(change(root), _user_form(root, is_staff="on"))  # is_superuser unticked
    assert response.status_code == 200
    assert "The last active superuser cannot lose the flag" in response.content.decode()
    assert fresh(root).is_superuser

    second = UserFactory(username="second-root", is_superuser=True, is_staff=True)
    response = client.post(change(second), _user_form(second, is_staff="on"))
    assert response.status_code == 302 and not fresh(second).is_superuser


def test_nobody_deactivates_themselves(root, operator):
    for user in (root, operator):
        client = client_for(user)
        data = _user_form(fresh(user), is_active="", is_staff="on", is_superuser="on" if user.is_superuser else "")
        response = client.post(change(user), data)
        assert response.status_code == 200
        assert "You cannot deactivate yourself" in response.content.decode()
        assert fresh(user).is_active


def test_nobody_deletes_themselves_one_by_one_or_in_bulk(root, operator):
    client = client_for(operator)
    bob = UserFactory(username="bob")
    assert f"/admin/accounts/user/{operator.pk}/delete/" not in client.get(change(operator)).content.decode()
    assert client.post(f"/admin/accounts/user/{operator.pk}/delete/", {"post": "yes"}).status_code == 403

    selected = [str(operator.pk), str(bob.pk)]
    response = client.post(
        LIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was deleted. operator: You cannot delete yourself" in response.content.decode()
    assert User.objects.filter(pk__in=selected).count() == 2

    # A superuser in the selection: refused for a non-superuser too.
    selected = [str(root.pk), str(bob.pk)]
    response = client.post(
        LIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}, follow=True
    )
    assert "Only superusers can delete superusers" in response.content.decode()
    assert User.objects.filter(pk__in=selected).count() == 2

    # Without offenders the stock confirmation and deletion run.
    response = client.post(LIST, {"action": "delete_selected", "_selected_action": [str(bob.pk)], "post": "yes"})
    assert response.status_code == 302 and not User.objects.filter(pk=bob.pk).exists()


def test_a_superuser_is_deleted_only_by_a_superuser(root, operator):
    second = UserFactory(username="second-root", is_superuser=True, is_staff=True)
    assert client_for(operator).post(f"/admin/accounts/user/{second.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client_for(root).post(f"/admin/accounts/user/{second.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not User.objects.filter(pk=second.pk).exists()


def offered_roles(page: str) -> set[str]:
    select = re.search(r'<select[^>]*name="groups".*?</select>', page, re.S)
    assert select is not None
    return set(re.findall(r'<option value="(\d+)"', select.group(0)))


def test_staff_assign_only_roles_whose_permissions_they_hold(root):
    manager, _role = staff_with_codes(
        "manager", "GET:/api/v1/users", "GET:/api/v1/users/{user_id}", "PATCH:/api/v1/users/{user_id}"
    )
    small = async_to_sync(grant)(None, "GET:/api/v1/users", name="small")
    big = Role.objects.get(name="administrator")
    bob = UserFactory(username="bob")
    client = client_for(manager)

    offered = offered_roles(client.get(change(bob)).content.decode())
    assert str(small.pk) in offered and str(big.pk) not in offered

    response = client.post(change(bob), _user_form(bob, groups=[str(big.pk)]))
    assert response.status_code == 200 and not fresh(bob).groups.filter(pk=big.pk).exists()
    response = client.post(change(bob), _user_form(bob, groups=[str(small.pk)]))
    assert response.status_code == 302 and list(fresh(bob).groups.all()) == [Group.objects.get(pk=small.pk)]

    # A role the user already has but the manager could not assign stays on offer and may be kept or removed.
    bob.groups.add(big)
    assert str(big.pk) in offered_roles(client.get(change(bob)).content.decode())
    assert client.post(change(bob), _user_form(fresh(bob))).status_code == 302
    assert fresh(bob).groups.filter(pk=big.pk).exists()
    assert client.post(change(bob), _user_form(fresh(bob), groups=[str(small.pk)])).status_code == 302
    assert not fresh(bob).groups.filter(pk=big.pk).exists()


def test_force_logout_needs_its_api_code(root):
    bob = UserFactory(username="bob")
    async_to_sync(tokens_for)(bob)
    viewer, _role = staff_with_codes("viewer", "GET:/api/v1/users", "GET:/api/v1/users/{user_id}")
    client = client_for(viewer)
    client.post(LIST, {"action": "force_logout", "_selected_action": [str(bob.pk)]})
    assert len(async_to_sync(sessions_of)(str(bob.pk))) == 1
    async_to_sync(grant)(viewer, "POST:/api/v1/users/{user_id}/logout", name="kicker")
    response = client.post(LIST, {"action": "force_logout", "_selected_action": [str(bob.pk)]})
    assert response.status_code == 302
    assert async_to_sync(sessions_of)(str(bob.pk)) == []


def test_a_password_set_in_the_admin_ends_the_users_sessions(root):
    bob = UserFactory(username="bob")
    headers = async_to_sync(bearer_headers)(bob)
    api = Client()
    assert api.get("/api/v1/auth/user/info", headers=headers).status_code == 200
    new = "N3w-password-for-bob"
    response = client_for(root).post(
        f"/admin/accounts/user/{bob.pk}/password/", {"password1": new, "password2": new, "usable_password": "true"}
    )
    assert response.status_code == 302
    assert fresh(bob).check_password(new)
    refused = api.get("/api/v1/auth/user/info", headers=headers)
    assert refused.status_code == 401 and refused.json()["code"] == 40103


def test_role_changes_in_the_user_admin_bump_the_user_version_and_reach_the_api(root):
    bob = UserFactory(username="bob")
    lister = async_to_sync(grant)(None, "GET:/api/v1/roles", name="lister")
    headers = async_to_sync(bearer_headers)(bob)
    api = Client()
    assert api.get("/api/v1/roles", headers=headers).status_code == 403
    before = int(sync_redis().get(user_version_key(str(bob.pk))) or 0)
    assert client_for(root).post(change(bob), _user_form(bob, groups=[str(lister.pk)])).status_code == 302
    assert int(sync_redis().get(user_version_key(str(bob.pk))) or 0) > before
    assert api.get("/api/v1/roles", headers=headers).status_code == 200
    # Deactivating in the admin ends the sessions at once.
    assert client_for(root).post(change(bob), _user_form(fresh(bob), is_active="")).status_code == 302
    assert api.get("/api/v1/roles", headers=headers).json()["code"] == 40103
