"""Route-derived permissions, default deny, instant invalidation and the escalation guard rails."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.models import Role
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, encrypt_like_webcrypto, grant

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = "/api/v1/roles"


async def _schema(client, settings):
    settings.API_DOCS_PUBLIC = True
    return (await client.get("/api/v1/openapi.json")).json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _concrete(path, operation):
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        kind = parameter["schema"].get("type")
        value = (
            str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "987654" if kind == "integer" else "x"
        )
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


async def _call(client, method, url, headers, body="{}"):
    kwargs = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs.update(data=body, content_type="application/json")
    return await getattr(client, method.lower())(url, **kwargs)


def _access_by_code():
    return {op.code: op.access for op in routes.catalogue()}


async def _denied_codes(client, schema, user):
    """Codes of permission-checked operations this user is refused (403/40300) on."""
    access = _access_by_code()
    denied, allowed = set(), set()
    for method, path, operation in _operations(schema):
        code = f"{method}:{path}"
        if access[code] is not Access.PERMISSION:
            continue
        response = await _call(client, method, _concrete(path, operation), await bearer_headers(user))
        if response.status_code == 403:
            assert envelope_of(response)["code"] == 40300
            denied.add(code)
        else:
            allowed.add(code)
    return denied, allowed


async def test_catalogue_has_exactly_one_code_per_permission_checked_operation(client, settings):
    schema = await _schema(client, settings)
    openapi_codes = [f"{m}:{p}" for m, p, _ in _operations(schema)]
    assert len(openapi_codes) == len(set(openapi_codes))
    catalogue = routes.catalogue()
    assert sorted(op.code for op in catalogue) == sorted(openapi_codes)
    checked = {op.code for op in catalogue if op.access is Access.PERMISSION}
    stored = await sync_to_async(
        lambda: set(Permission.objects.filter(content_type__model="apipermission").values_list("codename", flat=True))
    )()
    assert stored == checked
    # Never collapsed by path: each method of /roles/{role_id} has its own code.
    assert {
        "GET:/api/v1/roles/{role_id}",
        "PUT:/api/v1/roles/{role_id}",
        "PATCH:/api/v1/roles/{role_id}",
        "DELETE:/api/v1/roles/{role_id}",
    } <= checked
    assert "GET:/api/v1/health" not in checked and "GET:/api/v1/auth/user/info" not in checked


async def test_user_without_roles_is_denied_everywhere_but_public_and_signed_in(client, settings):
    schema = await _schema(client, settings)
    nobody = await sync_to_async(UserFactory.create)(username="nobody")
    access = _access_by_code()
    for method, path, operation in _operations(schema):
        code = f"{method}:{path}"
        url = _concrete(path, operation)
        response = await _call(client, method, url, await bearer_headers(nobody))
        if access[code] is Access.PERMISSION:
            assert response.status_code == 403, (code, response.status_code)
            assert envelope_of(response)["code"] == 40300
        else:
            assert response.status_code != 403, code
            if access[code] is Access.SIGNED_IN:
                anonymous = await _call(client, method, url, {})
                assert anonymous.status_code == 401, code


async def test_a_role_granting_one_operation_opens_exactly_that_one(client, settings):
    schema = await _schema(client, settings)
    holder = await sync_to_async(UserFactory.create)(username="holder")
    await grant(holder, "GET:/api/v1/roles")
    denied, allowed = await _denied_codes(client, schema, holder)
    assert allowed == {"GET:/api/v1/roles"}
    assert "GET:/api/v1/roles/{role_id}" in denied


async def test_superuser_passes_every_permission_check(client, settings, admin_user):
    schema = await _schema(client, settings)
    denied, _allowed = await _denied_codes(client, schema, admin_user)
    assert denied == set()


async def test_authorization_comes_before_validation_and_lookup(client):
    nobody = await sync_to_async(UserFactory.create)(username="nobody")
    headers = await bearer_headers(nobody)
    invalid = await client.post(ROLES, data="{not json", content_type="application/json", headers=headers)
    assert invalid.status_code == 403
    missing = await client.get(f"{ROLES}/424242", headers=headers)
    assert missing.status_code == 403


async def _holder_with_get_roles():
    holder = await sync_to_async(UserFactory.create)(username="holder")
    role = await grant(holder, "GET:/api/v1/roles", name="lister")
    return holder, role


async def _status(client, user):
    return (await client.get(ROLES, headers=await bearer_headers(user))).status_code


async def test_revoking_through_the_api_closes_at_once(client, admin_user):
    holder, role = await _holder_with_get_roles()
    root = await bearer_headers(admin_user)
    assert await _status(client, holder) == 200
    await client.patch(
        f"{ROLES}/{role.pk}", data=json.dumps({"permissions": []}), content_type="application/json", headers=root
    )
    assert await _status(client, holder) == 403


async def test_deactivating_a_role_through_the_api_closes_at_once(client, admin_user):
    holder, role = await _holder_with_get_roles()
    headers = await bearer_headers(holder)
    assert (await client.get(ROLES, headers=headers)).status_code == 200
    response = await client.patch(
        f"{ROLES}/{role.pk}",
        data=json.dumps({"is_active": False}),
        content_type="application/json",
        headers=await bearer_headers(admin_user),
    )
    assert envelope_of(response)["data"]["is_active"] is False
    assert (await client.get(ROLES, headers=headers)).status_code == 403  # same token, next request


async def test_removing_the_user_from_the_role_through_the_api_closes_at_once(client, admin_user):
    holder, _role = await _holder_with_get_roles()
    headers = await bearer_headers(holder)
    assert (await client.get(ROLES, headers=headers)).status_code == 200
    await client.patch(
        f"/api/v1/users/{holder.pk}",
        data=json.dumps({"roles": []}),
        content_type="application/json",
        headers=await bearer_headers(admin_user),
    )
    assert (await client.get(ROLES, headers=headers)).status_code == 403


def _role_admin_form(role, *, permission_ids, is_active):
    data = {
        "name": role.name,
        "permissions": [str(pk) for pk in permission_ids],
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-group": str(role.pk),
        "profile-0-description": "",
        "_save": "Save",
    }
    if is_active:
        data["profile-0-is_active"] = "on"
    return data


async def test_revoking_in_the_admin_closes_at_once(client, admin_user):
    holder, role = await _holder_with_get_roles()
    headers = await bearer_headers(holder)
    assert (await client.get(ROLES, headers=headers)).status_code == 200
    await client.aforce_login(admin_user)
    response = await client.post(
        f"/admin/accounts/role/{role.pk}/change/", _role_admin_form(role, permission_ids=[], is_active=True)
    )
    assert response.status_code == 302, response.content[:2000]
    assert (await client.get(ROLES, headers=headers)).status_code == 403


async def test_deactivating_in_the_admin_closes_at_once(client, admin_user):
    holder, role = await _holder_with_get_roles()
    headers = await bearer_headers(holder)
    permission_ids = await sync_to_async(lambda: list(role.permissions.values_list("pk", flat=True)))()
    await client.aforce_login(admin_user)
    response = await client.post(
        f"/admin/accounts/role/{role.pk}/change/",
        _role_admin_form(role, permission_ids=permission_ids, is_active=False),
    )
    assert response.status_code == 302, response.content[:2000]
    assert (await client.get(ROLES, headers=headers)).status_code == 403


async def test_granting_in_the_admin_opens_at_once(client, admin_user):
    holder = await sync_to_async(UserFactory.create)(username="holder")
    role = await grant(holder, name="empty")
    headers = await bearer_headers(holder)
    assert (await client.get(ROLES, headers=headers)).status_code == 403
    permission = await Permission.objects.aget(codename="GET:/api/v1/roles")
    await client.aforce_login(admin_user)
    response = await client.post(
        f"/admin/accounts/role/{role.pk}/change/",
        _role_admin_form(role, permission_ids=[permission.pk], is_active=True),
    )
    assert response.status_code == 302
    assert (await client.get(ROLES, headers=headers)).status_code == 200


async def test_admin_role_form_groups_api_permissions_by_tag(client, admin_user):
    role = await grant(None, name="viewer")
    await client.aforce_login(admin_user)
    page = (await client.get(f"/admin/accounts/role/{role.pk}/change/")).content.decode()
    assert "GET:/api/v1/roles" in page
    assert "rbac" in page and "auth" not in [line.strip() for line in page.splitlines() if "GET:/api/v1/auth" in line]


async def test_role_names_are_unique(client, admin_user):
    headers = await bearer_headers(admin_user)
    body = json.dumps({"name": "ops", "permissions": []})
    assert (await client.post(ROLES, data=body, content_type="application/json", headers=headers)).status_code == 201
    again = await client.post(ROLES, data=body, content_type="application/json", headers=headers)
    assert again.status_code == 409
    assert envelope_of(again)["code"] == 40900


async def test_unknown_permission_codes_are_refused(client, admin_user):
    body = json.dumps({"name": "ops", "permissions": ["GET:/api/v1/roles", "GET:/api/v1/nope"]})
    response = await client.post(
        ROLES, data=body, content_type="application/json", headers=await bearer_headers(admin_user)
    )
    assert response.status_code == 422
    assert envelope_of(response)["data"][0]["loc"] == ["body", "permissions", "GET:/api/v1/nope"]
    assert not await Role.objects.filter(name="ops").aexists()


async def test_role_crud_round_trip(client, admin_user):
    headers = await bearer_headers(admin_user)
    created = envelope_of(
        await client.post(
            ROLES,
            data=json.dumps({"name": "ops", "description": "d", "permissions": ["GET:/api/v1/roles"]}),
            content_type="application/json",
            headers=headers,
        )
    )["data"]
    assert created["permissions"] == ["GET:/api/v1/roles"] and created["is_active"] is True
    replaced = envelope_of(
        await client.put(
            f"{ROLES}/{created['id']}",
            data=json.dumps({"name": "ops2", "permissions": []}),
            content_type="application/json",
            headers=headers,
        )
    )["data"]
    assert replaced["name"] == "ops2" and replaced["permissions"] == []
    listed = envelope_of(await client.get(f"{ROLES}?search=ops", headers=headers))["data"]
    assert listed["total"] == 1 and listed["page"] == 1 and listed["page_size"] == 20
    assert (await client.delete(f"{ROLES}/{created['id']}", headers=headers)).status_code == 200
    assert envelope_of(await client.get(f"{ROLES}/{created['id']}", headers=headers))["code"] == 40400


async def test_nobody_grants_what_they_do_not_hold(client):
    manager = await sync_to_async(UserFactory.create)(username="manager")
    await grant(manager, "POST:/api/v1/roles", "GET:/api/v1/roles")
    headers = await bearer_headers(manager)
    escalate = json.dumps({"name": "x", "permissions": ["DELETE:/api/v1/roles/{role_id}"]})
    response = await client.post(ROLES, data=escalate, content_type="application/json", headers=headers)
    assert response.status_code == 403
    fine = json.dumps({"name": "y", "permissions": ["GET:/api/v1/roles"]})
    assert (await client.post(ROLES, data=fine, content_type="application/json", headers=headers)).status_code == 201


async def test_assigning_a_stronger_role_is_escalation(client):
    manager = await sync_to_async(UserFactory.create)(username="manager")
    await grant(manager, "PATCH:/api/v1/users/{user_id}")
    strong = await grant(None, "DELETE:/api/v1/users/{user_id}", name="strong")
    target = await sync_to_async(UserFactory.create)(username="target")
    response = await client.patch(
        f"/api/v1/users/{target.pk}",
        data=json.dumps({"roles": [strong.pk]}),
        content_type="application/json",
        headers=await bearer_headers(manager),
    )
    assert response.status_code == 403


async def test_only_superusers_grant_the_superuser_flag(client):
    manager = await sync_to_async(UserFactory.create)(username="manager")
    await grant(manager, "PATCH:/api/v1/users/{user_id}")
    target = await sync_to_async(UserFactory.create)(username="target")
    response = await client.patch(
        f"/api/v1/users/{target.pk}",
        data=json.dumps({"is_superuser": True}),
        content_type="application/json",
        headers=await bearer_headers(manager),
    )
    assert response.status_code == 403
    await target.arefresh_from_db()
    assert target.is_superuser is False


async def test_nobody_deletes_or_deactivates_themselves(client, admin_user):
    headers = await bearer_headers(admin_user)
    deleted = await client.delete(f"/api/v1/users/{admin_user.pk}", headers=headers)
    assert deleted.status_code == 409
    deactivated = await client.patch(
        f"/api/v1/users/{admin_user.pk}",
        data=json.dumps({"is_active": False}),
        content_type="application/json",
        headers=headers,
    )
    assert deactivated.status_code == 409


async def test_the_last_active_superuser_keeps_the_flag(client, admin_user):
    response = await client.patch(
        f"/api/v1/users/{admin_user.pk}",
        data=json.dumps({"is_superuser": False}),
        content_type="application/json",
        headers=await bearer_headers(admin_user),
    )
    assert response.status_code == 409
    second = await sync_to_async(UserFactory.create)(username="second", is_superuser=True)
    response = await client.patch(
        f"/api/v1/users/{admin_user.pk}",
        data=json.dumps({"is_superuser": False}),
        content_type="application/json",
        headers=await bearer_headers(second),
    )
    assert response.status_code == 200


async def test_user_crud_with_sealed_password(client, admin_user):
    headers = await bearer_headers(admin_user)
    key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    sealed = encrypt_like_webcrypto(key["public_key"], "carol-pass-77", key["challenge"])
    role = await grant(None, "GET:/api/v1/roles", name="lister")
    created = await client.post(
        "/api/v1/users",
        data=json.dumps({"username": "carol", "password": sealed, "email": "c@example.com", "roles": [role.pk]}),
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.content
    data = envelope_of(created)["data"]
    assert data["roles"] == [role.pk] and data["is_superuser"] is False and data["last_login"] is None
    from tests.helpers import login

    assert (await login(client, "carol", "carol-pass-77")).status_code == 200
    duplicate = await client.post(
        "/api/v1/users",
        data=json.dumps({"username": "carol", "password": sealed}),
        content_type="application/json",
        headers=headers,
    )
    assert duplicate.status_code in (401, 409)  # the challenge was burnt (40105) before the name check
    page = envelope_of(await client.get("/api/v1/users?search=car", headers=headers))["data"]
    assert [u["username"] for u in page["items"]] == ["carol"]
    assert (await client.delete(f"/api/v1/users/{data['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/users/{data['id']}", headers=headers)).status_code == 404


async def test_force_logout_ends_every_session_of_the_user(client, admin_user):
    target = await sync_to_async(UserFactory.create)(username="target")
    target_headers = await bearer_headers(target)
    assert (await client.get("/api/v1/auth/user/info", headers=target_headers)).status_code == 200
    response = await client.post(f"/api/v1/users/{target.pk}/logout", headers=await bearer_headers(admin_user))
    assert response.status_code == 200
    assert envelope_of(await client.get("/api/v1/auth/user/info", headers=target_headers))["code"] == 40103


async def test_admin_force_logout_action(client, admin_user):
    target = await sync_to_async(UserFactory.create)(username="target")
    target_headers = await bearer_headers(target)
    await client.aforce_login(admin_user)
    page = (await client.get(f"/admin/accounts/user/{target.pk}/change/")).content.decode()
    assert "pytest" in page  # the live session's user agent is listed
    response = await client.post(
        "/admin/accounts/user/", {"action": "force_logout", "_selected_action": [str(target.pk)]}
    )
    assert response.status_code == 302
    assert envelope_of(await client.get("/api/v1/auth/user/info", headers=target_headers))["code"] == 40103


async def test_user_routes_lists_what_the_caller_may_call(client):
    holder, _role = await _holder_with_get_roles()
    data = envelope_of(await client.get("/api/v1/auth/user/routes", headers=await bearer_headers(holder)))["data"]
    codes = {item["code"] for item in data}
    assert "GET:/api/v1/roles" in codes and "GET:/api/v1/auth/user/info" in codes
    assert "POST:/api/v1/roles" not in codes


async def test_permission_catalogue_filters(client, admin_user):
    headers = await bearer_headers(admin_user)
    page = envelope_of(await client.get("/api/v1/permissions?tag=rbac&page_size=100", headers=headers))["data"]
    assert page["total"] >= 10
    assert all(item["tag"] == "rbac" for item in page["items"])
    found = envelope_of(await client.get("/api/v1/permissions?search=force", headers=headers))["data"]["items"]
    assert [item["code"] for item in found] == ["POST:/api/v1/users/{user_id}/logout"]


async def test_a_deactivated_role_grants_no_model_permission_either(client):
    from apps.accounts.models import RoleProfile

    user = await sync_to_async(UserFactory.create)(username="modeler")
    role = await grant(user, name="modelers")
    permission = await Permission.objects.aget(codename="view_user")
    await sync_to_async(role.permissions.add)(permission)
    fresh = await sync_to_async(lambda: type(user).objects.get(pk=user.pk))()
    assert await sync_to_async(fresh.has_perm)("accounts.view_user")
    await RoleProfile.objects.filter(group=role).aupdate(is_active=False)
    fresh = await sync_to_async(lambda: type(user).objects.get(pk=user.pk))()
    assert not await sync_to_async(fresh.has_perm)("accounts.view_user")


async def test_user_info_roles_follow_membership_rename_and_delete_on_the_next_request(client):
    # The roles come from the cached authorization state, not a query per request: every change shows at once.
    holder, role = await _holder_with_get_roles()
    headers = await bearer_headers(holder)

    async def roles() -> list[str]:
        info = envelope_of(await client.get("/api/v1/auth/user/info", headers=headers))["data"]
        return [item["name"] for item in info["roles"]]

    assert await roles() == ["lister"]
    other = await grant(holder, name="auditor")
    assert await roles() == ["auditor", "lister"]
    role.name = "viewer"
    await role.asave()
    assert await roles() == ["auditor", "viewer"]
    await other.adelete()
    assert await roles() == ["viewer"]
    await sync_to_async(holder.groups.clear)()
    assert await roles() == []


async def test_role_list_pages_follow_every_change_on_the_next_request(client, admin_user):
    # Pages are cached under the global authorization version; every kind of change must show at once.
    from django.contrib.auth.models import Group

    from apps.accounts.models import RoleProfile

    headers = await bearer_headers(admin_user)
    role = await grant(None, "GET:/api/v1/roles", name="cached-role")

    async def listed() -> dict[str, dict]:
        page = envelope_of(await client.get(ROLES, headers=headers, data={"page_size": 100}))["data"]
        return {item["name"]: item for item in page["items"]}

    assert (await listed())["cached-role"]["permissions"] == ["GET:/api/v1/roles"]
    assert (await listed())["cached-role"]["is_active"] is True  # served from the cache this time
    await grant(None, "GET:/api/v1/users", name="second-role")
    assert "second-role" in await listed()
    await sync_to_async(role.permissions.add)(await Permission.objects.aget(codename="GET:/api/v1/users"))
    assert (await listed())["cached-role"]["permissions"] == ["GET:/api/v1/roles", "GET:/api/v1/users"]
    profile = await RoleProfile.objects.aget(group=role)
    profile.is_active, profile.description = False, "paused"
    await profile.asave()
    assert (await listed())["cached-role"] | {"permissions": []} == {
        "id": role.pk,
        "name": "cached-role",
        "description": "paused",
        "is_active": False,
        "permissions": [],
    }
    group = await Group.objects.aget(pk=role.pk)
    group.name = "renamed-role"
    await group.asave()
    assert set(await listed()) >= {"renamed-role"} and "cached-role" not in await listed()
    await group.adelete()
    assert "renamed-role" not in await listed()
    # A permission code renamed by sync_permissions shows in the listing (and in cached permission sets).
    permission = await Permission.objects.aget(codename="GET:/api/v1/users")
    permission.codename = "GET:/api/v1/users-renamed"
    await permission.asave()
    assert (await listed())["second-role"]["permissions"] == ["GET:/api/v1/users-renamed"]


async def test_role_pages_remembered_in_process_are_not_served_after_redis_loses_its_data(client, admin_user):
    from django.conf import settings
    from django.contrib.auth.models import Group

    from apps.accounts.authz import global_version_key
    from apps.core.redis import async_redis

    headers = await bearer_headers(admin_user)
    role = await grant(None, "GET:/api/v1/roles", name="before-loss")
    redis = async_redis()
    version = await redis.get(global_version_key())
    assert version is not None and int(version) > 1000  # the first bump starts from a random number

    async def names() -> set[str]:
        page = envelope_of(await client.get(ROLES, headers=headers, data={"page_size": 100}))["data"]
        return {item["name"] for item in page["items"]}

    assert "before-loss" in await names()  # now remembered in this process under `version`
    # Redis loses everything (a restart without persistence); a change lands without any signal.
    keys = [k async for k in redis.scan_iter(f"{settings.REDIS_KEY_PREFIX}:*")]
    await redis.delete(*keys)
    await Group.objects.filter(pk=role.pk).aupdate(name="after-loss")
    headers = await bearer_headers(admin_user)  # the session went with the data
    assert "after-loss" in await names()
    # The next bump starts from a new random number, not from where the lost version was.
    await grant(None, name="another")
    assert await redis.get(global_version_key()) != version
    assert {"after-loss", "another"} <= await names()


async def test_a_remembered_role_page_is_answered_as_the_schema_renders_it(client, admin_user):
    """The page is rendered once per version and answered as is: the same bytes and headers as the first
    answer, which went through the response schema (Page[RoleOut])."""
    from apps.accounts.schemas import RoleOut
    from apps.core.pagination import Page

    headers = await bearer_headers(admin_user)
    await grant(None, "GET:/api/v1/roles", name="rendered-role")
    first = await client.get(ROLES, headers=headers, data={"page_size": 5})
    again = await client.get(ROLES, headers=headers, data={"page_size": 5})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Content-Type"] == "application/json; charset=utf-8"
    for header in ("X-Request-ID", "X-RateLimit-Limit", "X-Content-Type-Options"):
        assert header in again
    body = json.loads(again.content)
    assert body["code"] == 0 and body["message"] == "OK"
    assert Page[RoleOut].model_validate(body["data"]).model_dump() == body["data"]
    assert "rendered-role" in {item["name"] for item in body["data"]["items"]}


async def test_a_state_gone_from_redis_is_recomputed_even_when_the_process_copy_has_its_versions(client):
    """Each process keeps a parsed copy of a user's state and uses it while Redis says, in the auth script, that
    the versions are its own and the shared document still exists. An expired (or flushed) document sends the
    next request back to the database, even though nothing bumped a version."""
    from apps.accounts.authz import known_states, state_key
    from apps.core.redis import async_redis

    holder, role = await _holder_with_get_roles()
    assert await _status(client, holder) == 200
    assert await _status(client, holder) == 200  # answered from this process's copy
    assert known_states.versions(str(holder.pk)) != ["", ""]
    # A change no version sees (a queryset delete of the grants sends no m2m signal), then the document expires.
    await Role.permissions.through.objects.filter(group_id=role.pk).adelete()
    await async_redis().delete(state_key(str(holder.pk)))
    assert await _status(client, holder) == 403


async def test_requests_pass_after_redis_forgot_the_auth_script(client):
    """A restarted Redis (or SCRIPT FLUSH) no longer knows the auth script: it is loaded again, not failed."""
    from apps.core.redis import async_redis

    holder, _role = await _holder_with_get_roles()
    assert await _status(client, holder) == 200
    await async_redis().script_flush()
    assert await _status(client, holder) == 200
