"""What an operator sees in the admin console, in a real browser: who sees which pages, the role editor, the
log pages with filters and export, kicking a session, the dashboard and switching to Chinese."""

import csv
import io
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, shot, sign_in

pytestmark = pytest.mark.e2e

OPERATION_LOGS = "/admin/audit/operationlogentry/"

LOGS = """
from apps.accounts.models import User
from apps.audit.documents import OperationLog
from datetime import UTC, datetime
from apps.core.ids import new_uuid7
admin = User.objects.get(username="admin")
now = datetime.now(UTC)
for index, status in enumerate([200, 201, 404, 500, 403]):
    OperationLog(id=str(new_uuid7()), request_id=f"r{index}", user_id=str(admin.pk), username="admin", method="GET",
                 path=f"/api/v1/things/{index}", route="/api/v1/things/{id}", status=status, duration_ms=3.5 + index,
                 ip="127.0.0.1", user_agent="browser-seed", created_at=now).save()
print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module", autouse=True)
def _operation_logs(site: Site) -> None:
    site.snippet(LOGS)


def _sidebar_links(page: Page) -> set[str]:
    return {
        href for href in page.eval_on_selector_all("a[href^='/admin/']", "els => els.map(e => e.getAttribute('href'))")
    }


def test_superuser_sees_the_dashboard_and_every_page(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    links = _sidebar_links(page)
    for path in ("/admin/accounts/user/", "/admin/accounts/role/", OPERATION_LOGS, "/admin/console/onlineuser/"):
        assert path in links, path
    expect(page.locator("body")).to_contain_text("Operation logs")
    shot(page, "dashboard-superuser")


def test_administrator_role_staff_can_use_the_pages(page: Page, site: Site) -> None:
    sign_in(page, site, "operator")
    expect(page.locator("body")).not_to_contain_text("You don't have permission")
    page.goto(site.base + "/admin/accounts/user/")
    expect(page.locator("body")).to_contain_text("member")
    page.goto(site.base + "/admin/accounts/role/add/")
    expect(page.locator("input[name=name]")).to_be_visible()


def test_read_only_staff_sees_pages_and_changes_nothing(page: Page, site: Site) -> None:
    sign_in(page, site, "viewer")
    page.goto(site.base + "/admin/accounts/user/")
    expect(page.locator("body")).to_contain_text("member")
    assert page.locator("a[href='/admin/accounts/user/add/']").count() == 0
    response = page.goto(site.base + "/admin/accounts/role/add/")
    assert response is not None and response.status == 403
    shot(page, "read-only-refused-add")


def test_custom_role_sees_exactly_its_page(page: Page, site: Site) -> None:
    sign_in(page, site, "auditor-user")
    links = _sidebar_links(page)
    assert OPERATION_LOGS in links
    assert "/admin/accounts/user/" not in links and "/admin/audit/loginlogentry/" not in links
    response = page.goto(site.base + "/admin/accounts/user/")
    assert response is not None and response.status == 403
    page.goto(site.base + OPERATION_LOGS)
    expect(page.locator("body")).to_contain_text("/api/v1/things/")


def test_create_a_role_with_settings_and_permissions_in_the_matrix(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    page.goto(site.base + "/admin/accounts/role/add/")
    page.fill("input[name=name]", "browser-role")
    page.fill("#perm-search", "/audit/operations")
    page.check("input[data-perm-code='GET:/api/v1/audit/operations']")
    page.fill("textarea[name$=description]", "made in a browser")
    page.uncheck("input[name$=is_active]")
    shot(page, "permission-matrix")
    page.click("input[name=_save], button[name=_save]")
    expect(page.locator("body")).to_contain_text("browser-role")
    saved = site.snippet(
        "from apps.accounts.models import Role\n"
        "r = Role.objects.select_related('profile').get(name='browser-role')\n"
        "print(json.dumps({'codes': sorted(p.codename for p in r.permissions.all()),"
        " 'description': r.profile.description, 'active': r.profile.is_active}))"
    )
    assert saved == {"codes": ["GET:/api/v1/audit/operations"], "description": "made in a browser", "active": False}


def test_browse_filter_and_export_operation_logs(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    page.goto(site.base + OPERATION_LOGS + "?status=5xx")
    body = page.locator("body")
    expect(body).to_contain_text("/api/v1/things/3")
    expect(body).not_to_contain_text("/api/v1/things/0")
    shot(page, "operation-logs-5xx")
    with page.expect_download() as download_info:
        page.click("a[href*='export/']")
    with open(download_info.value.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert any("/api/v1/things/3" in cell for row in rows for cell in row)
    assert not any("/api/v1/things/0" in cell for row in rows for cell in row)
    page.goto(site.base + OPERATION_LOGS + "?p=99999999999999999999")  # past the end: the last page, not a 500
    expect(body).to_contain_text("/api/v1/things/")


def test_kick_a_session_ends_its_api_token(page: Page, site: Site) -> None:
    token = site.token("member")
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "browser-tests"}
    assert httpx.get(site.base + "/api/v1/auth/user/info", headers=headers).status_code == 200
    sign_in(page, site, "admin")
    page.goto(site.base + "/admin/console/onlineuser/")
    shot(page, "online-users")
    expect(page.locator("body")).to_contain_text("member")
    page.click("a[data-kick-session]")
    page.click("#kick-confirm")
    expect(page.locator("body")).to_contain_text(re.compile("session", re.I))
    answer = httpx.get(site.base + "/api/v1/auth/user/info", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (401, 40103)


def test_switch_the_admin_to_chinese(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/i18n/setlang/';
        for (const [k, v] of [['language', 'zh-hans'], ['next', '/admin/'],
          ['csrfmiddlewaretoken', document.querySelector('[name=csrfmiddlewaretoken]').value]]) {
          const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
        document.body.appendChild(f); f.submit(); }"""
    )
    page.wait_for_url(re.compile(r".*/admin/$"))
    expect(page.locator("body")).to_contain_text("操作日志")
    shot(page, "index-chinese")
