"""One authorization model: admin permissions derived from API codes, checked against the real admin pages."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.admin_access import ACTION_PERMISSIONS, ADMIN_PERMISSIONS, derived_permissions, mapped_codes
from apps.accounts.backends import RoleAwareModelBackend
from apps.accounts.models import Role, RoleProfile, User
from apps.accounts.sessions import sessions_of
from apps.audit.documents import COLLECTIONS
from apps.audit.writer import get_writer
from apps.core import mongo
from apps.scheduler import records, writer
from apps.storage.models import StoredFile
from tests.factories import UserFactory
from tests.helpers import grant, tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANGE_BUTTON = 'name="_save"'


# --- helpers shared by the admin test modules ------------------------------------------------------------


def seed(settings: Any) -> User:
    """initdb as an operator runs it: permissions, the superuser, the administrator and read-only roles."""
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "root", "root-pass-123"
    call_command("initdb", stdout=StringIO())
    return User.objects.get(username="root")


def staff_with_roles(username: str, *role_names: str, is_staff: bool = True) -> User:
    user: User = UserFactory(username=username, is_staff=is_staff)
    user.groups.set(Role.objects.filter(name__in=role_names))
    return user


def staff_with_codes(username: str, *codes: str) -> tuple[User, Role]:
    user: User = UserFactory(username=username, is_staff=True)
    role = async_to_sync(grant)(user, *codes, name=f"{username}-role")
    return user, role


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changelist_url(model: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(model: Any, object_id: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[object_id])


def url_of(model: Any, view: str, *args: Any) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:  # a page without that view (the MongoDB lists have no add/delete)
        return None


def visible_models(user: User) -> set[str]:
    """The models of the admin index and sidebar app list, as the admin builds it for this user."""
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=user.pk)
    return {model["object_name"].lower() for app in admin.site.get_app_list(request) for model in app["models"]}


def sample_objects(root: User) -> dict[Any, str]:
    """One object behind every admin page that has detail pages (model -> id), stored in the real stores."""
    interval = IntervalSchedule.objects.create(every=7, period=IntervalSchedule.MINUTES)
    samples: dict[Any, str] = {
        User: str(UserFactory(username="bob").pk),
        Role: str(Role.objects.get(name="read-only").pk),
        IntervalSchedule: str(interval.pk),
        CrontabSchedule: str(CrontabSchedule.objects.create(minute="5", hour="4").pk),
        SolarSchedule: str(SolarSchedule.objects.create(event="sunrise", latitude=10, longitude=10).pk),
        ClockedSchedule: str(ClockedSchedule.objects.create(clocked_time=datetime.now(UTC) + timedelta(days=1)).pk),
        PeriodicTask: str(PeriodicTask.objects.create(name="sample", task="scheduler.ping", interval=interval).pk),
        StoredFile: str(
            StoredFile.objects.create(
                owner=root,
                bucket="uploads",
                object_key=f"sample/{uuid.uuid4()}",
                filename="sample.txt",
                size=3,
                content_type="text/plain",
                strategy=StoredFile.Strategy.SINGLE,
            ).pk
        ),
    }
    from apps.accounts.signals import login_attempted
    from apps.audit.models import LoginLogEntry, OperationLogEntry
    from apps.scheduler.models import TaskRunEntry

    db = mongo.database()
    for name in COLLECTIONS.values():
        db[name].delete_many({})
    login_attempted.send(
        sender=None, username="mallory", user_id=None, success=False, reason="bad_credentials", ip="198.51.100.4",
        user_agent="pytest", request_id=None,
    )  # fmt: skip
    Client().get("/api/v1/roles")  # refused (401): failures are operation logs
    assert get_writer().flush(timeout=15)
    samples[LoginLogEntry] = str(db[COLLECTIONS["login"]].find_one()["_id"])
    samples[OperationLogEntry] = str(db[COLLECTIONS["operation"]].find_one()["_id"])
    task_id = str(uuid.uuid4())
    writer.submit(
        records.queued(task_id=task_id, task="scheduler.ping", args=[], kwargs={}, retries=0, at=datetime.now(UTC))
    )
    assert writer.flush(timeout=10)
    samples[TaskRunEntry] = task_id
    return samples


def page_urls(samples: dict[Any, str]) -> list[str]:
    """Every admin page's list, and its detail page where it has one."""
    urls = []
    for model in admin.site._registry:
        urls.append(changelist_url(model))
        if model in samples:
            urls.append(change_url(model, samples[model]))
    return urls


# --- the mapping -----------------------------------------------------------------------------------------


def test_every_admin_page_permission_is_mapped_to_api_codes():
    missing = [
        f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        for model in admin.site._registry
        for action in model._meta.default_permissions
        if f"{model._meta.app_label}.{action}_{model._meta.model_name}" not in ADMIN_PERMISSIONS
    ]
    assert not missing, f"admin pages whose permissions no API code decides: {missing}"


def test_every_mapped_code_is_a_permission_checked_operation():
    checked = {op.code for op in routes.catalogue() if op.access is Access.PERMISSION}
    assert mapped_codes() - checked == set()
    assert all(ADMIN_PERMISSIONS.values()), "an admin permission mapped to no code would be held by everyone"


def test_every_mapped_permission_is_a_permission_row_or_a_declared_action():
    rows = {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert set(ADMIN_PERMISSIONS) - rows == ACTION_PERMISSIONS


def test_derived_permissions_need_every_listed_code():
    assert "accounts.view_user" not in derived_permissions({"GET:/api/v1/users"})  # the list alone: no detail
    assert "accounts.view_user" in derived_permissions({"GET:/api/v1/users", "GET:/api/v1/users/{user_id}"})
    # A change page also lists and shows: PATCH alone does not open it.
    assert "accounts.change_user" not in derived_permissions({"PATCH:/api/v1/users/{user_id}"})
    assert derived_permissions(set()) == frozenset()
    assert derived_permissions(mapped_codes()) == frozenset(ADMIN_PERMISSIONS)


# --- the backend -----------------------------------------------------------------------------------------


def test_staff_get_the_derived_permissions_of_their_roles_and_other_real_ones():
    user, role = staff_with_codes("mapper", "GET:/api/v1/audit/operations", "GET:/api/v1/users")
    role.permissions.add(Permission.objects.get(codename="manage_all_files"))
    fresh = User.objects.get(pk=user.pk)
    perms = fresh.get_all_permissions()
    assert perms == {"audit.view_operationlogentry", "storage.manage_all_files"}
    assert fresh.has_module_perms("audit") and not fresh.has_module_perms("accounts")
    assert not fresh.has_perm("accounts.view_user")


def test_non_staff_get_no_admin_permission_from_api_codes():
    user, _role = staff_with_codes("api-only", "GET:/api/v1/audit/operations")
    User.objects.filter(pk=user.pk).update(is_staff=False)
    assert not User.objects.get(pk=user.pk).has_perm("audit.view_operationlogentry")


def test_permissions_are_computed_once_per_user_object(django_assert_num_queries):
    user, _role = staff_with_codes("cached", "GET:/api/v1/audit/operations")
    fresh = User.objects.get(pk=user.pk)
    with django_assert_num_queries(2):  # role grants, own permissions
        assert fresh.has_perm("audit.view_operationlogentry")
    with django_assert_num_queries(0):
        assert fresh.has_perm("audit.view_operationlogentry")
        assert fresh.has_module_perms("audit")
        assert not fresh.has_perm("audit.view_loginlogentry")


def test_superusers_keep_every_permission(settings):
    root = seed(settings)
    perms = RoleAwareModelBackend().get_all_permissions(User.objects.get(pk=root.pk))
    assert set(ADMIN_PERMISSIONS) <= perms and "storage.manage_all_files" in perms
    assert not any(":" in perm for perm in perms)  # API codes are not admin permissions


# --- the real admin --------------------------------------------------------------------------------------


def test_administrator_role_sees_and_uses_every_page_a_superuser_can(settings):
    root = seed(settings)
    samples = sample_objects(root)
    operator = staff_with_roles("operator", "administrator")
    as_root, as_operator = client_for(root), client_for(operator)

    assert visible_models(operator) == visible_models(root)
    assert len(visible_models(root)) == len(admin.site._registry)
    for url in page_urls(samples):
        mine, theirs = as_root.get(url), as_operator.get(url)
        assert mine.status_code == theirs.status_code == 200, (url, mine.status_code, theirs.status_code)
        assert (CHANGE_BUTTON in mine.content.decode()) == (CHANGE_BUTTON in theirs.content.decode()), url
    for model in admin.site._registry:
        if add := url_of(model, "add"):
            assert as_root.get(add).status_code == as_operator.get(add).status_code, add

    # ... and uses them: create a user, change one, delete a schedule, force a logout.
    created = as_operator.post(
        url_of(User, "add"),
        {"username": "carol", "email": "", "full_name": "", "password1": "Pa55-word-xyz", "password2": "Pa55-word-xyz"},
    )
    assert created.status_code == 302 and User.objects.filter(username="carol").exists()
    bob = User.objects.get(pk=samples[User])
    changed = as_operator.post(change_url(User, bob.pk), _user_form(bob, email="bob@example.org"))
    assert changed.status_code == 302, changed.content.decode()[:3000]
    assert User.objects.get(pk=bob.pk).email == "bob@example.org"
    interval = IntervalSchedule.objects.create(every=9, period=IntervalSchedule.HOURS)
    assert as_operator.post(url_of(IntervalSchedule, "delete", interval.pk), {"post": "yes"}).status_code == 302
    assert not IntervalSchedule.objects.filter(pk=interval.pk).exists()
    async_to_sync(tokens_for)(bob)
    kicked = as_operator.post(changelist_url(User), {"action": "force_logout", "_selected_action": [str(bob.pk)]})
    assert kicked.status_code == 302
    assert async_to_sync(sessions_of)(str(bob.pk)) == []


def _user_form(user: User, **overrides: Any) -> dict[str, Any]:
    data = {
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on" if user.is_active else "",
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_read_only_role_sees_every_page_and_changes_nothing(settings):
    root = seed(settings)
    samples = sample_objects(root)
    reader = staff_with_roles("reader", "read-only")
    client = client_for(reader)

    assert visible_models(reader) == visible_models(root)
    for url in page_urls(samples):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        assert CHANGE_BUTTON not in html, url
        assert not re.search(r'href="[^"]*/(add|delete)/"', html), url
    for model in admin.site._registry:
        object_id = samples.get(model)
        if add := url_of(model, "add"):
            assert client.get(add).status_code in (403, 404), add  # 404: the MongoDB pages have no add view
            assert client.post(add, {}).status_code in (403, 404, 405), add
        if object_id is not None and (delete := url_of(model, "delete", object_id)):
            assert client.post(delete, {"post": "yes"}).status_code == 403, delete
        if object_id is not None and model in (User, Role, IntervalSchedule, PeriodicTask, StoredFile):
            assert client.post(change_url(model, object_id), {"name": "x", "username": "x"}).status_code == 403
    bob = User.objects.get(pk=samples[User])
    async_to_sync(tokens_for)(bob)
    for action in ("delete_selected", "force_logout"):
        client.post(changelist_url(User), {"action": action, "_selected_action": [str(bob.pk)], "post": "yes"})
    assert User.objects.filter(pk=bob.pk).exists()
    assert len(async_to_sync(sessions_of)(str(bob.pk))) == 1
    assert User.objects.get(pk=bob.pk).username == "bob"


def test_a_custom_role_sees_exactly_its_pages(settings):
    root = seed(settings)
    samples = sample_objects(root)
    from apps.audit.models import OperationLogEntry

    auditor, _role = staff_with_codes("auditor", "GET:/api/v1/audit/operations")
    client = client_for(auditor)
    assert visible_models(auditor) == {"operationlogentry"}
    index = client.get("/admin/").content.decode()
    assert changelist_url(OperationLogEntry) in index
    for model in admin.site._registry:
        if model is OperationLogEntry:
            continue
        assert f'href="{changelist_url(model)}"' not in index, model
        assert client.get(changelist_url(model)).status_code == 403, model
        if model in samples:
            assert client.get(change_url(model, samples[model])).status_code == 403, model
    assert client.get(changelist_url(OperationLogEntry)).status_code == 200
    assert client.get(change_url(OperationLogEntry, samples[OperationLogEntry])).status_code == 200


def test_a_deactivated_role_gives_nothing_and_a_role_change_shows_on_the_next_request(settings):
    root = seed(settings)
    samples = sample_objects(root)
    operator = staff_with_roles("operator", "administrator")
    client = client_for(operator)
    users = changelist_url(User)
    assert client.get(users).status_code == 200
    RoleProfile.objects.filter(group__name="administrator").update(is_active=False)
    assert client.get(users).status_code == 403  # the same signed-in session, the next request
    assert visible_models(operator) == set()
    assert "You don’t have permission to view or edit anything" in client.get("/admin/").content.decode()
    assert client.get(change_url(Role, samples[Role])).status_code == 403
    RoleProfile.objects.filter(group__name="administrator").update(is_active=True)
    assert client.get(users).status_code == 200
    operator.groups.clear()
    assert client.get(users).status_code == 403


def test_roles_do_not_open_the_admin_without_staff_status(settings):
    seed(settings)
    outsider = staff_with_roles("outsider", "administrator", is_staff=False)
    response = client_for(outsider).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_read_only_role_runs_no_user_or_role_action(settings):
    """Bulk actions change things too: the reader is offered none, and posting one changes nothing."""
    root = seed(settings)
    samples = sample_objects(root)
    client = client_for(staff_with_roles("reader", "read-only"))
    bob = User.objects.get(pk=samples[User])
    async_to_sync(tokens_for)(bob)
    for action in ("delete_selected", "force_logout"):
        response = client.post(
            changelist_url(User), {"action": action, "_selected_action": [str(bob.pk)], "post": "yes"}
        )
        assert response.status_code in (200, 302)
    role = Role.objects.get(pk=samples[Role])
    client.post(changelist_url(Role), {"action": "delete_selected", "_selected_action": [str(role.pk)], "post": "yes"})
    assert User.objects.filter(pk=bob.pk).exists() and Role.objects.filter(pk=role.pk).exists()
    assert len(async_to_sync(sessions_of)(str(bob.pk))) == 1
    request = RequestFactory().post("/admin/")
    request.user = User.objects.get(username="reader")
    for model in (User, Role):
        assert admin.site._registry[model].get_actions(request) == {}, model
