"""Each scope kind x each scoped list and detail, through the API and the admin: exact rows, totals, 404 outside."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.conftest import envelope_of
from tests.helpers import bearer_headers
from tests.org.conftest import API, World, give_scope

pytestmark = pytest.mark.django_db(transaction=True)

EVERYONE = ("ur", "ua", "ua1", "ua2", "ub", "ub1", "actor")
CASES = {
    "all": ((), EVERYONE),
    "department_and_below": ((), ("ua", "ua1", "ua2", "actor")),
    "department": ((), ("ua", "actor")),
    "self": ((), ("actor",)),
    "custom": (("A2", "B1"), ("ua2", "ub1", "actor")),
}


async def _page(client, url, headers):
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.content
    data = envelope_of(response)["data"]
    assert data["total"] == len(data["items"])
    return data


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_api_lists_and_details_follow_the_scope(client, world: World, kind):
    custom, visible = CASES[kind]
    actor = await give_scope(world, kind, custom)
    headers = await bearer_headers(actor)
    expected = world.ids(*visible)
    outside = [n for n in EVERYONE if n not in visible]

    users = await _page(client, f"{API}/users?search={world.marker}&page_size=100", headers)
    assert {u["id"] for u in users["items"]} == expected
    assert users["total"] == len(visible)

    files = await _page(client, f"{API}/files?page_size=100", headers)
    assert {f["id"] for f in files["items"]} == {world.files[n] for n in visible}

    operations = await _page(client, f"{API}/audit/operations?path={world.marker}&page_size=100", headers)
    assert {o["user_id"] for o in operations["items"]} == expected
    logins = await _page(client, f"{API}/audit/logins?username={world.marker}&page_size=100", headers)
    assert {o["user_id"] for o in logins["items"]} == expected
    runs = await _page(client, f"{API}/task-runs?task=mx.{world.marker}&page_size=100", headers)
    assert {r["task_id"] for r in runs["items"]} == {world.runs[n] for n in visible}

    for name in visible:
        assert (await client.get(f"{API}/users/{world.users[name].pk}", headers=headers)).status_code == 200
        assert (await client.get(f"{API}/files/{world.files[name]}", headers=headers)).status_code == 200
        assert (await client.get(f"{API}/task-runs/{world.runs[name]}", headers=headers)).status_code == 200
    for name in outside:
        for url in (
            f"{API}/users/{world.users[name].pk}",
            f"{API}/files/{world.files[name]}",
            f"{API}/task-runs/{world.runs[name]}",
        ):
            response = await client.get(url, headers=headers)
            assert response.status_code == 404, url
            assert envelope_of(response)["code"] == 40400
        # Writes are refused the same way: the user is not found.
        patch = await client.patch(
            f"{API}/users/{world.users[name].pk}",
            data=json.dumps({"full_name": "x"}),
            content_type="application/json",
            headers=headers,
        )
        assert (patch.status_code, envelope_of(patch)["code"]) == (404, 40400)
        logout = await client.post(f"{API}/users/{world.users[name].pk}/logout", headers=headers)
        assert (logout.status_code, envelope_of(logout)["code"]) == (404, 40400)


def _admin_pages(world: World, actor) -> dict[str, object]:
    browser = Client()
    browser.force_login(actor)
    response = browser.get(f"/admin/accounts/user/?q={world.marker}")
    assert response.status_code == 200
    changelist = response.context["cl"]
    # The MongoDB-backed pages read through the same selectors.
    operations = browser.get(f"/admin/audit/operationlogentry/?path={world.marker}")
    runs = browser.get(f"/admin/scheduler/taskrunentry/?task=mx.{world.marker}")
    logins = browser.get(f"/admin/audit/loginlogentry/?username={world.marker}")
    assert operations.status_code == runs.status_code == logins.status_code == 200
    files = browser.get(f"/admin/storage/storedfile/?q={world.marker}")
    assert files.status_code == 200
    return {
        "rows": {str(u.pk) for u in changelist.result_list},
        "count": changelist.result_count,
        "details": {n: browser.get(f"/admin/accounts/user/{u.pk}/change/").status_code for n, u in world.users.items()},
        "operations": {n for n, u in world.users.items() if f"/mx/{world.marker}/{n}<" in operations.content.decode()},
        "runs": {n for n, task_id in world.runs.items() if task_id in runs.content.decode()},
        "logins": {n for n in world.users if f"{world.marker}-{n}<" in logins.content.decode()},
        "files": {str(f.pk) for f in files.context["cl"].result_list},
        "file_details": {
            n: browser.get(f"/admin/storage/storedfile/{file_id}/change/").status_code
            for n, file_id in world.files.items()
        },
    }


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_admin_pages_follow_the_scope(world: World, kind):
    custom, visible = CASES[kind]
    actor = await give_scope(world, kind, custom)
    pages = await sync_to_async(_admin_pages)(world, actor)
    assert pages["rows"] == world.ids(*visible)
    assert pages["count"] == len(visible)
    assert pages["operations"] == set(visible)
    assert pages["runs"] == set(visible)
    assert pages["logins"] == set(visible)
    assert pages["files"] == {world.files[n] for n in visible}
    for name, status in pages["file_details"].items():
        assert status == (200 if name in visible else 302), name
    for name, status in pages["details"].items():
        # The admin answers an id outside the queryset like an unknown one: a redirect with "doesn't exist".
        assert status == (200 if name in visible else 302), name


async def test_user_writes_cannot_place_users_outside_the_scope(client, world: World):
    actor = await give_scope(world, "department_and_below")
    headers = await bearer_headers(actor)
    url = f"{API}/users/{world.users['ua1'].pk}"
    body = json.dumps({"department": world.departments["B"].pk})
    response = await client.patch(url, data=body, content_type="application/json", headers=headers)
    assert (response.status_code, envelope_of(response)["code"]) == (403, 40300)
    inside = json.dumps({"department": world.departments["A2"].pk})
    response = await client.patch(url, data=inside, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert envelope_of(response)["data"]["department"] == world.departments["A2"].pk
    null = await client.patch(
        url, data=json.dumps({"department": None}), content_type="application/json", headers=headers
    )
    assert (null.status_code, envelope_of(null)["code"]) == (422, 42200)
