"""Browser tests: Playwright driving Debian's chromium (scripts/browser.sh installs it; nothing is downloaded)
against one live daphne process in production settings with its own PostgreSQL database, Redis prefix, MongoDB
database, bucket and Celery queue (scripts/bench/harness.py); a module that needs tasks to run asks for the
`worker` (and `beat`) fixture, started on the same settings. Each module gets its own server and stores, so the
figures one module reads are only its own. Each page a test visits is saved as a screenshot under
.artifacts/screenshots/ (git-ignored)."""

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pymongo import MongoClient
from pymongo.database import Database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from harness import Child, bench_environment, celery_beat, celery_worker, daphne, django_snippet  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / ".artifacts" / "screenshots"
PASSWORD = "browser-pass-123"
# expect() waits 5 s by default: too short for a busy two-core machine.
expect.set_options(timeout=30_000)

SEED = """
from django.contrib.auth.models import Permission
from apps.accounts.models import Role, User
password = %(password)r
def staff(name, *roles):
    user = User.objects.create_user(username=name, password=password, is_staff=True, email=name + "@example.com")
    user.groups.set([Role.objects.get(name=role) for role in roles])
    return user
staff("operator", "administrator")
staff("viewer", "read-only")
auditor = Role.objects.create(name="auditor")
auditor.permissions.set(Permission.objects.filter(codename="GET:/api/v1/audit/operations"))
staff("auditor-user", "auditor")
User.objects.create_user(username="member", password=password)
admin = User.objects.get(username="admin")
admin.set_password(password)
admin.save()
print(json.dumps({"ok": True}))
"""

TOKEN = """
from apps.accounts.models import User
from tests.helpers import tokens_for
pair = asyncio.run(tokens_for(User.objects.get(username=%(username)r), user_agent="browser-tests"))
print(json.dumps({"access": pair.access_token}))
"""


class Site:
    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base = base
        self.env = env
        self._mongo: MongoClient[dict[str, Any]] | None = None

    def snippet(self, code: str) -> Any:
        return django_snippet(self.env, code)

    def token(self, username: str) -> str:
        return str(self.snippet(TOKEN % {"username": username})["access"])

    def mongo(self) -> Database[dict[str, Any]]:
        """The server's MongoDB database (operation logs, login logs, task runs), read directly."""
        if self._mongo is None:
            self._mongo = MongoClient(self.env["MONGODB_URL"], serverSelectionTimeoutMS=5000, tz_aware=True)
        return self._mongo.get_default_database()

    def close(self) -> None:
        if self._mongo is not None:
            self._mongo.drop_database(self._mongo.get_default_database().name)
            self._mongo.close()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread while it is open,
# and the async tests that run after these would find it.
@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with bench_environment() as env, daphne(env) as (base, _pid):
        site = Site(base, env)
        site.snippet(SEED % {"password": PASSWORD})
        try:
            yield site
        finally:
            site.close()


@pytest.fixture(scope="module")
def worker(site: Site) -> Iterator[Child]:
    """A Celery worker behind the module's server (prefork, one pool process), on its settings and queue."""
    with celery_worker(site.env) as process:
        yield process


@pytest.fixture
def beat(site: Site) -> Iterator[Child]:
    """Celery beat with the database scheduler, reading the schedule rows every second, for one test."""
    with celery_beat(site.env, tick_seconds=1) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: scripts/browser.sh installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(45000)  # generous: the first pages of a cold server on a busy machine
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    context.close()


def sign_in(page: Page, site: Site, username: str) -> None:
    page.goto(site.base + "/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]", no_wait_after=True)
    page.wait_for_url(re.compile(r".*/admin/$"), timeout=90000)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
