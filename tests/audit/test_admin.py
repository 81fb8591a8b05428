import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.audit.documents import COLLECTIONS
from apps.audit.records import new_record_id
from tests.audit.conftest import make_user

T0 = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)  # well within the retention TTL
OLDEST = re.compile(r"/api/v1/things/0\s*<")


def _operation(minutes, **fields):
    doc = {
        "_id": new_record_id(),
        "request_id": f"req-{minutes}",
        "user_id": str(uuid.uuid4()),
        "username": "alice",
        "method": "POST",
        "path": f"/api/v1/things/{minutes}",
        "route": "/api/v1/things/{n}",
        "status": 201,
        "duration_ms": 2.0,
        "ip": "10.0.0.1",
        "user_agent": "pytest",
        "browser": "Other",
        "os": "Other",
        "device": "Other",
        "query": {"page": "1"},
        "body": {"name": "thing", "password": "[REDACTED]"},
        "body_size": 40,
        "created_at": T0 + timedelta(minutes=minutes),
    }
    doc.update(fields)
    return doc


@pytest.fixture
def seeded(audit_db):
    operations = [_operation(i) for i in range(60)]
    operations.append(_operation(100, method="DELETE", username="bob", status=403, path="/api/v1/roles/x"))
    audit_db[COLLECTIONS["operation"]].insert_many(operations)
    audit_db[COLLECTIONS["login"]].insert_many(
        [
            {
                "_id": new_record_id(),
                "username": "mallory",
                "user_id": None,
                "success": False,
                "reason": "bad_credentials",
                "ip": "198.51.100.9",
                "user_agent": "curl/8.0",
                "browser": "curl 8.0",
                "os": "Other",
                "device": "Other",
                "request_id": "login-1",
                "created_at": T0,
            }
        ]
    )
    return operations


@pytest.fixture
def superuser_client(db):
    user = make_user(username="admin-audit", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_admin_index_links_the_log_pages(superuser_client):
    html = superuser_client.get("/admin/").content.decode()
    assert "/admin/audit/operationlogentry/" in html
    assert "/admin/audit/loginlogentry/" in html


@pytest.mark.django_db
def test_admin_operation_list_paginates_newest_first(superuser_client, seeded):
    response = superuser_client.get("/admin/audit/operationlogentry/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "61 records" in html and "page 1 of 2" in html
    assert "/api/v1/roles/x" in html  # the newest one
    assert not OLDEST.search(html)  # the oldest is on page 2
    page_two = superuser_client.get("/admin/audit/operationlogentry/", {"p": 2}).content.decode()
    assert OLDEST.search(page_two) and "page 2 of 2" in page_two


@pytest.mark.django_db
def test_admin_operation_list_filters_and_search(superuser_client, seeded):
    html = superuser_client.get("/admin/audit/operationlogentry/", {"method": "DELETE"}).content.decode()
    assert "1 record" in html and "/api/v1/roles/x" in html
    html = superuser_client.get("/admin/audit/operationlogentry/", {"q": "BOB"}).content.decode()
    assert "1 record" in html
    html = superuser_client.get("/admin/audit/operationlogentry/", {"status": "oops"}).content.decode()
    assert 'id="audit-filter-errors"' in html and "0 records" in html


@pytest.mark.django_db
def test_admin_operation_detail_shows_every_field(superuser_client, seeded):
    target = seeded[-1]
    response = superuser_client.get(f"/admin/audit/operationlogentry/{target['_id']}/")
    assert response.status_code == 200
    html = response.content.decode()
    for value in ("/api/v1/roles/x", "DELETE", "403", "req-100", "[REDACTED]"):
        assert value in html
    assert superuser_client.get("/admin/audit/operationlogentry/no-such-id/").status_code == 404


@pytest.mark.django_db
def test_admin_login_list_and_detail(superuser_client, seeded):
    html = superuser_client.get("/admin/audit/loginlogentry/", {"success": "false"}).content.decode()
    assert "mallory" in html and "bad_credentials" in html
    html = superuser_client.get("/admin/audit/loginlogentry/", {"success": "true"}).content.decode()
    assert "mallory" not in html


@pytest.mark.django_db
def test_admin_log_pages_need_the_view_permission(seeded):
    staff = make_user(username="staff-audit", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/audit/operationlogentry/").status_code == 403
    assert "/admin/audit/operationlogentry/" not in client.get("/admin/").content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_operationlogentry"))
    assert client.get("/admin/audit/operationlogentry/").status_code == 200
    assert client.get("/admin/audit/loginlogentry/").status_code == 403
    anonymous = Client().get("/admin/audit/operationlogentry/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


@pytest.mark.django_db
def test_admin_log_pages_offer_no_writes(superuser_client, seeded):
    html = superuser_client.get("/admin/audit/operationlogentry/").content.decode()
    assert "/admin/audit/operationlogentry/add/" not in html
    assert superuser_client.post("/admin/audit/operationlogentry/").status_code in (403, 405)
