"""Giving a role a data scope never reaches further than the giver sees (API and admin), and a scope covering
the whole tree is a NOT NULL test that shows exactly the users with a department."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.accounts.models import Role
from apps.org.models import Department, RoleScope
from apps.org.scope import compute_scope
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant
from tests.org.conftest import API, World, give_scope

pytestmark = pytest.mark.django_db(transaction=True)

DATA_SCOPE = f"{API}/roles/{{role_id}}/data-scope"


async def _grant_in_scope(actor, *codes: str) -> None:
    """Codes on a role of scope `self`: a role without a scope row would see all and widen the actor's reach."""
    role = await grant(actor, *codes)
    await RoleScope.objects.acreate(group=role, scope="self")


async def _target_role() -> Role:
    return await Role.objects.acreate(name=f"target-{uuid.uuid4().hex[:8]}")


async def _put_scope(client, headers, role_id, scope, departments=()):
    return await client.put(
        DATA_SCOPE.format(role_id=role_id),
        data=json.dumps({"scope": scope, "departments": list(departments)}),
        content_type="application/json",
        headers=headers,
    )


async def test_a_narrow_scope_cannot_widen_a_role_over_the_api(client, world: World):
    actor = await give_scope(world, "department")  # sees department A only
    await _grant_in_scope(actor, f"PUT:{DATA_SCOPE}", f"GET:{DATA_SCOPE}")
    headers = await bearer_headers(actor)
    own_role = await _target_role()
    ids = {name: d.pk for name, d in world.departments.items()}

    for scope, departments in (("all", ()), ("custom", (ids["B1"],)), ("department_and_below", ())):
        refused = await _put_scope(client, headers, own_role.pk, scope, departments)
        assert (refused.status_code, envelope_of(refused)["code"]) == (403, 40300), (scope, refused.content)
    assert not await RoleScope.objects.filter(group=own_role).aexists()  # nothing was written

    allowed = await _put_scope(client, headers, own_role.pk, "custom", (ids["A"],))
    assert envelope_of(allowed)["data"] == {"role": own_role.pk, "scope": "custom", "departments": [ids["A"]]}
    assert envelope_of(await _put_scope(client, headers, own_role.pk, "self"))["code"] == 0


async def test_who_sees_their_whole_subtree_may_give_department_and_below(client, world: World):
    actor = await give_scope(world, "department_and_below")
    await _grant_in_scope(actor, f"PUT:{DATA_SCOPE}")
    headers = await bearer_headers(actor)
    role = await _target_role()
    assert envelope_of(await _put_scope(client, headers, role.pk, "department_and_below"))["code"] == 0
    assert envelope_of(await _put_scope(client, headers, role.pk, "all"))["code"] == 40300


async def test_the_admin_data_scope_form_applies_the_same_rule(world: World):
    actor = await give_scope(world, "department")
    await _grant_in_scope(actor, f"GET:{DATA_SCOPE}", f"PUT:{DATA_SCOPE}")
    target = await _target_role()

    def post(scope: str) -> bytes:
        browser = Client()
        browser.force_login(actor)
        response = browser.post("/admin/org/rolescope/add/", {"group": str(target.pk), "scope": scope, "_save": "Save"})
        assert response.status_code in (200, 302), response.status_code
        return response.content if response.status_code == 200 else b"saved"

    assert b"Only someone who sees all data" in await sync_to_async(post)("all")
    assert not await RoleScope.objects.filter(group=target).aexists()
    assert await sync_to_async(post)("self") == b"saved"
    assert (await RoleScope.objects.aget(group=target)).scope == "self"


async def test_a_scope_over_the_whole_tree_sees_everyone_with_a_department(client, world: World):
    every = [d.pk async for d in Department.objects.all()]
    names = tuple(world.departments)
    actor = await give_scope(world, "custom", names)
    role = await sync_to_async(lambda: actor.groups.order_by("-pk").first())()
    await sync_to_async(lambda: RoleScope.objects.get(group=role).departments.set(every))()
    homeless = await sync_to_async(UserFactory.create)(username=f"homeless-{world.marker}")
    await type(homeless).objects.filter(pk=homeless.pk).aupdate(department=None)

    document = await compute_scope(user_id=str(actor.pk), is_superuser=False)
    assert document["tree"] is True and document["all"] is False
    headers = await bearer_headers(actor)
    users = envelope_of(await client.get(f"{API}/users?search={world.marker}&page_size=100", headers=headers))["data"]
    assert {u["id"] for u in users["items"]} == {str(u.pk) for u in world.users.values()}  # not the homeless one
    assert users["total"] == len(world.users)
    missing = await client.get(f"{API}/users/{homeless.pk}", headers=headers)
    assert (missing.status_code, envelope_of(missing)["code"]) == (404, 40400)

    # One department fewer and it is an id list again, with the same answer for the users it still covers.
    await sync_to_async(lambda: RoleScope.objects.get(group=role).departments.remove(every[0]))()
    assert (await compute_scope(user_id=str(actor.pk), is_superuser=False))["tree"] is False
