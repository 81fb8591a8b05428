"""/departments and /posts: CRUD, tree, move and reorder, refused deletes and moves, RBAC, and the next-request rule."""

import json
import threading

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.models import User
from apps.org.models import Department, RoleScope
from apps.org.services import department_update_sync
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers
from tests.org.conftest import API, World, give_scope

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def root_headers():
    root = await sync_to_async(UserFactory.create)(username="root", is_superuser=True, is_staff=True)
    return await bearer_headers(root)


async def _send(client, method, url, headers, body=None):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return await getattr(client, method)(url, **kwargs)


async def test_department_crud_tree_move_and_refused_deletes(client, root_headers):
    made = {}
    for code, parent, order in (("hq", None, 0), ("sales", "hq", 2), ("ops", "hq", 1), ("emea", "sales", 0)):
        response = await _send(
            client,
            "post",
            f"{API}/departments",
            root_headers,
            {"name": code.upper(), "code": code, "parent": made.get(parent), "order": order},
        )
        assert response.status_code == 201, response.content
        made[code] = envelope_of(response)["data"]["id"]
    tree = envelope_of(await client.get(f"{API}/departments/tree", headers=root_headers))["data"]
    assert [n["code"] for n in tree] == ["hq"]
    assert [n["code"] for n in tree[0]["children"]] == ["ops", "sales"]  # by order
    assert tree[0]["children"][1]["children"][0]["code"] == "emea"
    assert tree[0]["children"][1]["children"][0]["depth"] == 2

    # Reorder, then move a subtree: the paths of everything below follow.
    assert (
        await _send(client, "patch", f"{API}/departments/{made['ops']}", root_headers, {"order": 9})
    ).status_code == 200
    moved = await _send(client, "patch", f"{API}/departments/{made['sales']}", root_headers, {"parent": made["ops"]})
    assert envelope_of(moved)["data"]["parent"] == made["ops"]
    emea = await Department.objects.aget(pk=made["emea"])
    assert emea.path == f"/{made['hq']}/{made['ops']}/{made['sales']}/{made['emea']}/"
    tree = envelope_of(await client.get(f"{API}/departments/tree", headers=root_headers))["data"]
    assert [n["code"] for n in tree[0]["children"]] == ["ops"]

    # A move under its own descendant is refused; an unknown parent too; a duplicate code is a conflict.
    cycle = await _send(client, "patch", f"{API}/departments/{made['hq']}", root_headers, {"parent": made["emea"]})
    assert (cycle.status_code, envelope_of(cycle)["code"]) == (422, 42200)
    unknown = await _send(
        client, "post", f"{API}/departments", root_headers, {"name": "x", "code": "x", "parent": 987654}
    )
    assert (unknown.status_code, envelope_of(unknown)["code"]) == (422, 42200)
    duplicate = await _send(client, "post", f"{API}/departments", root_headers, {"name": "x", "code": "hq"})
    assert (duplicate.status_code, envelope_of(duplicate)["code"]) == (409, 40900)

    # Deleting a department with children or users is refused with 40900.
    with_children = await client.delete(f"{API}/departments/{made['ops']}", headers=root_headers)
    assert (with_children.status_code, envelope_of(with_children)["code"]) == (409, 40900)
    await sync_to_async(UserFactory.create)(username="member", department_id=made["emea"])
    with_users = await client.delete(f"{API}/departments/{made['emea']}", headers=root_headers)
    assert (with_users.status_code, envelope_of(with_users)["code"]) == (409, 40900)
    await User.objects.filter(username="member").adelete()
    assert (await client.delete(f"{API}/departments/{made['emea']}", headers=root_headers)).status_code == 200
    missing = await client.get(f"{API}/departments/{made['emea']}", headers=root_headers)
    assert (missing.status_code, envelope_of(missing)["code"]) == (404, 40400)


async def test_posts_crud_and_holders(client, root_headers):
    created = await _send(client, "post", f"{API}/posts", root_headers, {"name": "Engineer", "code": "eng", "order": 1})
    assert created.status_code == 201
    post_id = envelope_of(created)["data"]["id"]
    duplicate = await _send(client, "post", f"{API}/posts", root_headers, {"name": "E", "code": "eng"})
    assert (duplicate.status_code, envelope_of(duplicate)["code"]) == (409, 40900)
    user = await sync_to_async(UserFactory.create)(username="holder")
    patched = await _send(client, "patch", f"{API}/users/{user.pk}", root_headers, {"posts": [post_id]})
    assert envelope_of(patched)["data"]["posts"] == [post_id]
    bad = await _send(client, "patch", f"{API}/users/{user.pk}", root_headers, {"posts": [987654]})
    assert (bad.status_code, envelope_of(bad)["code"]) == (422, 42200)
    listed = envelope_of(await client.get(f"{API}/posts?search=eng", headers=root_headers))["data"]
    assert [p["code"] for p in listed["items"]] == ["eng"] and listed["total"] == 1
    assert (await client.delete(f"{API}/posts/{post_id}", headers=root_headers)).status_code == 200
    again = envelope_of(await client.get(f"{API}/users/{user.pk}", headers=root_headers))["data"]
    assert again["posts"] == []


async def test_routes_need_their_permission_codes(client, world: World):
    actor = await give_scope(world, "all")  # holds user/file/log codes, none of /departments or /posts
    headers = await bearer_headers(actor)
    for method, url in (("get", "/departments"), ("get", "/departments/tree"), ("get", "/posts")):
        response = await getattr(client, method)(f"{API}{url}", headers=headers)
        assert (response.status_code, envelope_of(response)["code"]) == (403, 40300), url


async def test_role_scope_api_and_next_request(client, world: World, root_headers):
    actor = await give_scope(world, "self")
    role = await sync_to_async(lambda: actor.groups.order_by("-pk").first())()
    headers = await bearer_headers(actor)
    url = f"{API}/users?search={world.marker}&page_size=100"
    assert envelope_of(await client.get(url, headers=headers))["data"]["total"] == 1

    # A role's scope changed through the API: the very next request sees it.
    body = {"scope": "custom", "departments": [world.departments["B"].pk]}
    response = await _send(client, "put", f"{API}/roles/{role.pk}/data-scope", root_headers, body)
    assert envelope_of(response)["data"] == {
        "role": role.pk,
        "scope": "custom",
        "departments": [world.departments["B"].pk],
    }
    ids = {u["id"] for u in envelope_of(await client.get(url, headers=headers))["data"]["items"]}
    assert ids == world.ids("ub", "actor")
    unknown = await _send(
        client, "put", f"{API}/roles/{role.pk}/data-scope", root_headers, {"scope": "custom", "departments": [987654]}
    )
    assert (unknown.status_code, envelope_of(unknown)["code"]) == (422, 42200)
    bad_kind = await _send(client, "put", f"{API}/roles/{role.pk}/data-scope", root_headers, {"scope": "nobody"})
    assert (bad_kind.status_code, envelope_of(bad_kind)["code"]) == (422, 42200)

    # The user's own department changed: `department` follows them on the next request.
    row = await RoleScope.objects.aget(group=role)
    row.scope = "department"
    await row.asave()  # the admin's write: the signal bumps the authorization version
    ids = {u["id"] for u in envelope_of(await client.get(url, headers=headers))["data"]["items"]}
    assert ids == world.ids("ua", "actor")
    actor.department = world.departments["B1"]
    await actor.asave()
    ids = {u["id"] for u in envelope_of(await client.get(url, headers=headers))["data"]["items"]}
    assert ids == world.ids("ub1", "actor")


async def test_moving_a_department_never_shows_a_mixed_tree(client, world: World):
    """While A2 moves between A and B, a `department_and_below` list in A is the old or the new set, never a mix."""
    actor = await give_scope(world, "department_and_below")
    headers = await bearer_headers(actor)
    with_a2, without_a2 = world.ids("ua", "ua1", "ua2", "actor"), world.ids("ua", "ua1", "actor")
    a2, a, b = (world.departments[k].pk for k in ("A2", "A", "B"))
    stop = threading.Event()
    moves = 0

    def mover() -> None:
        nonlocal moves
        from django.db import connection

        try:
            while not stop.is_set():
                department_update_sync(department_id=a2, changes={"parent": b if moves % 2 == 0 else a})
                moves += 1
        finally:
            connection.close()

    thread = threading.Thread(target=mover)
    thread.start()
    seen = set()
    try:
        for _ in range(40):
            data = envelope_of(await client.get(f"{API}/users?search={world.marker}&page_size=100", headers=headers))[
                "data"
            ]
            ids = {u["id"] for u in data["items"]}
            assert ids in (with_a2, without_a2)
            assert data["total"] == len(ids)
            seen.add(frozenset(ids))
    finally:
        stop.set()
        thread.join()
    assert moves > 2
    assert len(seen) == 2  # both states were observed, so the moves really raced the reads
