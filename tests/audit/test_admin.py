import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client

from apps.audit.documents import COLLECTIONS
from apps.audit.records import new_record_id
from apps.core import mongo
from tests.audit.conftest import amake_user, logged_failed_login, make_user

# Noon yesterday: well within the retention TTL, and T0 plus the seeded records' minutes stays on one UTC day
# (from late evening, "until=<T0's day>" would miss the records past midnight).
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
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


# --- badges, page numbers, bounded parameters, filters from links, CSV export ------------------------------

OPS = "/admin/audit/operationlogentry/"
LOGINS = "/admin/audit/loginlogentry/"


def _count(html: str) -> int:
    match = re.search(r"(\d+) records?\b", html)
    assert match, "no record count on the page"
    return int(match.group(1))


@pytest.mark.django_db
def test_admin_operation_list_draws_status_badges_and_page_numbers(superuser_client, seeded):
    html = superuser_client.get(OPS).content.decode()
    # unfold's label colours: 4xx orange (warning), 2xx green (success)
    assert re.search(r"bg-orange-100[^>]*>\s*403\s*<", html)
    assert re.search(r"bg-green-100[^>]*>\s*201\s*<", html)
    assert re.search(r'aria-current="page">1<', html)
    assert 'class="page-number" rel="">2</a>' in html and 'class="page-last"' in html
    assert 'class="page-next" rel="next"' in html
    html = superuser_client.get(OPS, {"p": 2}).content.decode()
    assert 'aria-current="page">2<' in html and 'class="page-previous" rel="prev"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "shown", "message"),
    [
        ("99999999999999999999", 2, "There is no page 99999999999999999999"),
        ("1" * 5000, 2, "There is no page 11111111111111111111…"),
        ("999", 2, "There is no page 999; showing the last page (2)"),
        ("3", 2, "There is no page 3"),
        ("-1", 1, "“-1” is not a page number"),
        ("0", 1, "“0” is not a page number"),
        ("abc", 1, "“abc” is not a page number"),
        ("٣", 1, "is not a page number"),  # a Unicode digit int() would take
        ("1.5", 1, "“1.5” is not a page number"),
    ],
)
def test_admin_log_list_bounds_the_page_parameter(superuser_client, seeded, page, shown, message):
    response = superuser_client.get(OPS, {"p": page})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and 'id="list-notices"' in html
    assert f"page {shown} of 2" in html
    assert not re.search(r"page \d+ of (?!2\b)", html) and "page 999 of" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["b" * 5000, "." * 1000, "(" * 800 + "bob", "\x00bob"])
def test_admin_log_lists_bound_the_search_text(superuser_client, seeded, text):
    for url in (OPS, LOGINS):
        response = superuser_client.get(url, {"q": text})
        assert response.status_code == 200, url
    html = superuser_client.get(OPS, {"q": text}).content.decode()
    if len(text) > 200:
        assert "The search text was cut to its first 200 characters." in html
    # The cut text is searched literally (regex characters escaped): nothing is that long, or "bob" matches.
    assert _count(html) == (1 if text == "\x00bob" else 0)


@pytest.mark.django_db
def test_admin_operation_list_filters_from_query_parameters(superuser_client, seeded):
    get = lambda **params: _count(superuser_client.get(OPS, params).content.decode())  # noqa: E731
    assert get(status="403") == 1
    assert get(status="4xx") == 1 and get(status="4XX") == 1
    assert get(status="2xx") == 60 and get(status="5xx") == 0
    assert get(method="delete") == 1 and get(method="POST") == 60
    assert get(path="/api/v1/things/5") == 11  # 5, 50..59
    assert get(user_id=seeded[-1]["user_id"]) == 1
    since = (T0 + timedelta(minutes=50)).isoformat()
    until = (T0 + timedelta(minutes=55)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(since=since) == 11 and get(since=since, until=until) == 5
    # A bare day as `until` includes that whole day.
    assert get(until=T0.date().isoformat()) == 61
    assert get(until=(T0.date() - timedelta(days=1)).isoformat()) == 0
    html = superuser_client.get(OPS, {"status": "7xx", "since": "yesterday"}).content.decode()
    assert 'id="audit-filter-errors"' in html and "Status:" in html and "Since (UTC):" in html and _count(html) == 0


@pytest.mark.django_db
def test_admin_login_list_filters_from_query_parameters(superuser_client, seeded, audit_db):
    audit_db[COLLECTIONS["login"]].insert_one(
        {"_id": new_record_id(), "username": "alice", "success": True, "ip": "10.0.0.7", "created_at": T0}
    )
    get = lambda **params: _count(superuser_client.get(LOGINS, params).content.decode())  # noqa: E731
    assert get() == 2
    assert get(success="true") == 1 and get(success="false") == 1
    assert get(username="MALL") == 1 and get(ip="10.0.0.7") == 1 and get(ip="10.0.0") == 0
    assert get(since=(T0 + timedelta(seconds=1)).isoformat()) == 0 and get(until=T0.date().isoformat()) == 2
    html = superuser_client.get(LOGINS, {"success": "true"}).content.decode()
    assert re.search(r"bg-green-100[^>]*>\s*success\s*<", html)
    html = superuser_client.get(LOGINS, {"success": "false"}).content.decode()
    assert re.search(r"bg-red-100[^>]*>\s*failure\s*<", html)


async def _body(response) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8-sig")


async def _superuser() -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(await amake_user(username=f"su-{uuid.uuid4().hex[:6]}", is_superuser=True, is_staff=True))
    return client


@pytest.mark.django_db(transaction=True)
async def test_admin_operation_export_streams_the_filtered_list_as_csv(audit_db):
    await sync_to_async(audit_db[COLLECTIONS["operation"]].insert_many)(
        [
            _operation(1, status=500, username='=HYPERLINK("http://x")', body={"big": "x" * 10_000}),
            _operation(2, status=503, username="张三"),
            _operation(3, status=200),
        ]
    )
    client = await _superuser()
    response = await client.get(f"{OPS}export/", {"status": "5xx", "p": "7"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="operation-logs-\d{8}-\d{6}\.csv"', response["Content-Disposition"])
    assert response["X-Export-Rows"] == "2" and response["X-Export-Truncated"] == "false"
    rows = list(csv.reader(io.StringIO(await _body(response))))
    assert rows[0][:6] == ["time", "request id", "user id", "username", "method", "path"]
    assert "body" not in rows[0] and "query" not in rows[0]
    assert len(rows) == 3  # the header and the two 5xx, newest first
    assert [row[rows[0].index("status")] for row in rows[1:]] == ["503", "500"]
    assert rows[1][3] == "张三"
    assert rows[2][3] == '\'=HYPERLINK("http://x")'  # never a formula in a spreadsheet
    assert rows[1][0].endswith("+00:00")


@pytest.mark.django_db(transaction=True)
async def test_admin_export_stops_at_the_row_cap_and_says_so(audit_db, monkeypatch):
    await sync_to_async(audit_db[COLLECTIONS["operation"]].insert_many)([_operation(i) for i in range(12)])
    monkeypatch.setattr("apps.core.admin.EXPORT_MAX_ROWS", 5)
    client = await _superuser()
    response = await client.get(f"{OPS}export/")
    assert response["X-Export-Rows"] == "5" and response["X-Export-Truncated"] == "true"
    rows = list(csv.reader(io.StringIO(await _body(response))))
    assert len(rows) == 6 and rows[1][5] == "/api/v1/things/11"
    html = (await client.get(OPS)).content.decode()
    assert "The export holds the newest 5 rows." in html
    assert f'href="{OPS}export/"' in html
    html = (await client.get(OPS, {"method": "POST", "p": "2"})).content.decode()
    assert f'href="{OPS}export/?method=POST"' in html  # the list's filters, not its page


@pytest.mark.django_db(transaction=True)
async def test_admin_login_export_and_its_refusals(audit_db):
    await sync_to_async(logged_failed_login)(audit_db, username="eve")
    client = await _superuser()
    response = await client.get(f"{LOGINS}export/", {"success": "false", "q": "e" * 3000})
    assert response.status_code == 200  # the search is cut, like on the page
    rows = list(csv.reader(io.StringIO(await _body(response))))
    assert rows[0][:4] == ["time", "username", "user id", "success"] and len(rows) == 1
    response = await client.get(f"{LOGINS}export/", {"success": "false"})
    rows = list(csv.reader(io.StringIO(await _body(response))))
    assert len(rows) == 2 and rows[1][1] == "eve" and rows[1][3] == "false" and rows[1][4] == "bad_credentials"
    refused = await client.get(f"{OPS}export/", {"status": "oops"})
    assert refused.status_code == 400 and "Nothing was exported." in refused.content.decode()
    assert (await client.post(f"{OPS}export/")).status_code == 405


@pytest.mark.django_db(transaction=True)
async def test_admin_export_needs_the_view_permission(audit_db):
    staff = AsyncClient()
    user = await amake_user(username=f"staff-{uuid.uuid4().hex[:6]}", is_staff=True)
    await staff.aforce_login(user)
    assert (await staff.get(f"{OPS}export/")).status_code == 403
    assert (await staff.get(f"{LOGINS}export/")).status_code == 403
    anonymous = await AsyncClient().get(f"{OPS}export/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


@pytest.mark.django_db
def test_admin_log_pages_say_when_mongodb_is_down(superuser_client, settings):
    settings.MONGODB_TIMEOUT_MS = 200
    mongo.connect("mongodb://127.0.0.1:1/unreachable", force=True)
    try:
        page = superuser_client.get(OPS)
        export = superuser_client.get(f"{OPS}export/")
        detail = superuser_client.get(f"{OPS}some-id/")
    finally:
        settings.MONGODB_TIMEOUT_MS = 2000
        mongo.connect(force=True)
    assert page.status_code == 200 and "MongoDB is unavailable" in page.content.decode()
    assert export.status_code == 503 and "MongoDB is unavailable" in export.content.decode()
    assert detail.status_code == 404
