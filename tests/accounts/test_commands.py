from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.models import ApiOperation, Role, User
from apps.accounts.permissions_sync import sync_permissions

pytestmark = pytest.mark.django_db(transaction=True)


def _api_permissions():
    return Permission.objects.filter(content_type__model="apipermission")


def test_sync_permissions_recreates_removed_and_drops_stale():
    _api_permissions().filter(codename="GET:/api/v1/roles").delete()
    stale_ct = _api_permissions().first().content_type
    Permission.objects.create(content_type=stale_ct, codename="GET:/api/v1/gone", name="gone")
    report = sync_permissions()
    assert report.created == ["GET:/api/v1/roles"]
    assert report.removed == ["GET:/api/v1/gone"]
    expected = {op.code for op in routes.catalogue() if op.access is Access.PERMISSION}
    assert set(_api_permissions().values_list("codename", flat=True)) == expected


def test_sync_permissions_renames_a_moved_route_and_keeps_its_grants():
    permission = _api_permissions().get(codename="GET:/api/v1/roles")
    role = Role.objects.create(name="lister")
    role.permissions.add(permission)
    # Simulate the state before the route moved: same operation, old path.
    permission.codename = "GET:/api/v1/old-roles"
    permission.save()
    ApiOperation.objects.filter(permission=permission).update(path="/api/v1/old-roles")
    report = sync_permissions()
    assert report.renamed == [("GET:/api/v1/old-roles", "GET:/api/v1/roles")]
    permission.refresh_from_db()
    assert permission.codename == "GET:/api/v1/roles"
    assert list(role.permissions.values_list("codename", flat=True)) == ["GET:/api/v1/roles"]


def test_sync_permissions_command_is_idempotent():
    out = StringIO()
    call_command("sync_permissions", stdout=out)
    assert "0 created, 0 renamed, 0 updated, 0 removed" in out.getvalue()


def test_initdb_is_idempotent_and_seeds_admin_and_roles(settings):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "boss", "boss-pass-123"
    call_command("initdb", stdout=StringIO())
    call_command("initdb", stdout=StringIO())
    boss = User.objects.get(username="boss")
    assert boss.is_superuser and boss.check_password("boss-pass-123")
    assert User.objects.filter(is_superuser=True).count() == 1
    administrator = Role.objects.get(name="administrator")
    read_only = Role.objects.get(name="read-only")
    all_codes = set(_api_permissions().values_list("codename", flat=True))
    granted = set(administrator.permissions.values_list("content_type__model", "codename"))
    # Every API code, and every user's files (the storage seed), as a superuser could; nothing else.
    assert {code for model, code in granted if model == "apipermission"} == all_codes
    others = {(model, code) for model, code in granted if model != "apipermission"}
    assert others == {("storedfile", "manage_all_files")}
    read_codes = set(read_only.permissions.values_list("codename", flat=True))
    assert read_codes and all(code.startswith("GET:") for code in read_codes)
    assert read_codes == {c for c in all_codes if c.startswith("GET:")}


def test_initdb_without_admin_settings_refuses_on_an_empty_database(settings):
    from django.core.management.base import CommandError

    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "", ""
    with pytest.raises(CommandError, match="ADMIN_USERNAME"):
        call_command("initdb", stdout=StringIO())
