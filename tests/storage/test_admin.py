"""The Django admin for stored files: list with download link, view-only detail, delete removes the object."""

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import Role, RoleProfile, User
from apps.storage import objects
from apps.storage.models import StoredFile
from apps.storage.schemas import UploadIn
from apps.storage.services import upload_complete, upload_create
from tests.storage.conftest import create_user

pytestmark = pytest.mark.django_db(transaction=True)


def uploaded(owner, data: bytes, name: str) -> StoredFile:
    ticket = async_to_sync(upload_create)(
        actor=owner, data=UploadIn(filename=name, size=len(data), content_type="text/plain")
    )
    assert httpx.put(ticket["url"], content=data).status_code == 200
    return async_to_sync(upload_complete)(actor=owner, file_id=ticket["file_id"], parts=None)


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(create_user(username="root", is_superuser=True, is_staff=True))
    return client


def test_admin_lists_files_with_owner_status_and_a_working_download_link(admin_client):
    owner = create_user(username="carol")
    file = uploaded(owner, b"admin download", "carol-notes.txt")
    response = admin_client.get("/admin/storage/storedfile/", {"status__exact": "ready"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "carol-notes.txt" in html and "carol" in html
    assert [row.pk for row in response.context["cl"].result_list] == [file.pk]
    detail = admin_client.get(f"/admin/storage/storedfile/{file.pk}/change/")
    assert detail.status_code == 200
    start = detail.content.decode().index('href="http://127.0.0.1:9000/')
    url = detail.content.decode()[start + 6 :].split('"', 1)[0].replace("&amp;", "&")
    assert httpx.get(url).content == b"admin download"


def test_admin_has_no_add_and_no_edit(admin_client):
    file = uploaded(create_user(username="dave"), b"x", "x.txt")
    assert admin_client.get("/admin/storage/storedfile/add/").status_code == 403
    before = StoredFile.objects.get(pk=file.pk).filename
    admin_client.post(f"/admin/storage/storedfile/{file.pk}/change/", {"filename": "renamed.txt"})
    assert StoredFile.objects.get(pk=file.pk).filename == before


def test_admin_delete_removes_the_object(admin_client):
    file = uploaded(create_user(username="erin"), b"delete me", "d.txt")
    response = admin_client.post(f"/admin/storage/storedfile/{file.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not StoredFile.objects.filter(pk=file.pk).exists()
    assert objects.stat(file.object_key) is None


def test_admin_bulk_delete_removes_every_object(admin_client):
    owner = create_user(username="frank")
    files = [uploaded(owner, f"file {i}".encode(), f"{i}.txt") for i in range(3)]
    response = admin_client.post(
        "/admin/storage/storedfile/",
        {"action": "delete_selected", "_selected_action": [str(f.pk) for f in files], "post": "yes"},
    )
    assert response.status_code == 302
    assert not StoredFile.objects.filter(pk__in=[f.pk for f in files]).exists()
    assert all(objects.stat(f.object_key) is None for f in files)


def test_download_link_needs_the_permission_to_manage_all_files():
    file = uploaded(create_user(username="gina"), b"secret", "s.txt")
    staff = create_user(username="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_storedfile"))
    # The page follows the data scope, which only roles give: an active role without a scope row sees all.
    role = Role.objects.create(name="file viewers")
    RoleProfile.objects.update_or_create(group=role, defaults={"is_active": True})
    staff.groups.add(role)
    client = Client()
    client.force_login(staff)
    html = client.get(f"/admin/storage/storedfile/{file.pk}/change/").content.decode()
    assert "s.txt" in html and "127.0.0.1:9000" not in html

    staff.user_permissions.add(Permission.objects.get(codename="manage_all_files"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached per instance
    client.force_login(staff)
    html = client.get(f"/admin/storage/storedfile/{file.pk}/change/").content.decode()
    assert "127.0.0.1:9000" in html
