"""English and Simplified Chinese: API messages follow Accept-Language, the admin follows its language switcher,
and the compiled catalog matches its source."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import polib
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import translation

from apps.core.exceptions import DEFAULT_MESSAGES, ErrorCode, NotFound
from apps.core.i18n import language_from_accept_header
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, encrypt_like_webcrypto

pytestmark = pytest.mark.django_db(transaction=True)

CATALOG_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """The sync test client activates a request's language in this thread: never leak it into other tests."""
    yield
    translation.deactivate()


# --- choosing the language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-Hans", "zh-hans"),
        ("zh-CN", "zh-hans"),
        ("zh-cn,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("zh", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.5, zh-CN;q=0.9", "zh-hans"),
        ("fr-FR, de;q=0.8", "en"),
        ("fr, zh;q=0.1", "zh-hans"),
        ("", "en"),
        ("*", "en"),
        ("zh-Hans;q=0", "en"),
        ("zh-Hans;q=0, zh-CN;q=0.5", "zh-hans"),
        ("zh-TW", "zh-hans"),
        ("x" * 5000, "en"),
        ("zh-Hans;q=abc, !!!", "en"),
    ],
)
def test_language_from_accept_header_picks_a_supported_language(header: str, expected: str) -> None:
    assert language_from_accept_header(header) == expected


def test_domain_error_message_is_rendered_in_the_active_language() -> None:
    error = NotFound(DEFAULT_MESSAGES[ErrorCode.NOT_FOUND])
    with translation.override("zh-hans"):
        assert error.message == "未找到"
    with translation.override("en"):
        assert error.message == "Not found"


# --- the API -----------------------------------------------------------------------------------------------


async def _both(client, method: str, path: str, **kwargs) -> tuple[dict, dict]:
    """The same request in English (no Accept-Language) and in Chinese; both answer the same status and code."""
    headers = kwargs.pop("headers", {})
    english = await getattr(client, method)(path, headers=headers, **kwargs)
    chinese = await getattr(client, method)(path, headers={**headers, "Accept-Language": "zh-Hans"}, **kwargs)
    assert english.status_code == chinese.status_code
    assert chinese["Content-Language"] == "zh-hans"
    assert english["Content-Language"] == "en"
    assert "Accept-Language" in chinese["Vary"]
    en_body, zh_body = envelope_of(english), envelope_of(chinese)
    assert en_body["code"] == zh_body["code"]
    return en_body, zh_body


async def test_api_40100_not_authenticated_in_both_languages(client):
    en, zh = await _both(client, "get", "/api/v1/auth/user/info")
    assert (en["code"], en["message"], zh["message"]) == (40100, "Not authenticated", "未登录")


async def test_api_40102_token_invalid_from_a_service_message(client):
    headers = {"Authorization": "Token abc"}
    en, zh = await _both(client, "get", "/api/v1/auth/user/info", headers=headers)
    assert en["code"] == 40102
    assert en["message"] == "Authorization header must be 'Bearer <access token>'"
    assert zh["message"] == "Authorization 请求头必须为 'Bearer <访问令牌>'"


async def test_api_40400_unknown_path_and_missing_resource(client):
    en, zh = await _both(client, "get", "/api/v1/definitely/not/here")
    assert (en["code"], en["message"], zh["message"]) == (40400, "Not found", "未找到")

    admin = await sync_to_async(UserFactory.create)(username=f"root-{uuid.uuid4().hex[:6]}", is_superuser=True)
    headers = await bearer_headers(admin)
    en, zh = await _both(client, "get", "/api/v1/roles/987654321", headers=headers)
    assert (en["code"], en["message"], zh["message"]) == (40400, "No such role", "角色不存在")


async def test_api_40300_permission_denied(client):
    user = await sync_to_async(UserFactory.create)(username=f"plain-{uuid.uuid4().hex[:6]}")
    headers = await bearer_headers(user)
    en, zh = await _both(client, "get", "/api/v1/roles", headers=headers)
    assert (en["code"], en["message"], zh["message"]) == (40300, "Permission denied", "没有权限")


async def test_api_40500_method_not_allowed(client):
    en, zh = await _both(client, "delete", "/api/v1/health")
    assert (en["code"], en["message"], zh["message"]) == (40500, "Method not allowed", "不允许的请求方法")


async def test_api_40000_malformed_body(client):
    en, zh = await _both(client, "post", "/api/v1/_test/echo", data="{not json", content_type="application/json")
    assert en["code"] == 40000
    assert en["message"] == "Malformed request body: expected a JSON object"
    assert zh["message"] == "请求体格式错误：应为 JSON 对象"


async def test_api_42200_message_translated_pydantic_items_stay_english(client):
    body = json.dumps({"name": "x", "count": "many"})
    en, zh = await _both(client, "post", "/api/v1/_test/echo", data=body, content_type="application/json")
    assert (en["code"], en["message"], zh["message"]) == (42200, "Validation error", "校验错误")
    assert zh["data"] == en["data"]  # pydantic's own item messages are English in both (documented)


async def test_api_42200_own_item_messages_are_translated(client):
    admin = await sync_to_async(UserFactory.create)(username=f"root-{uuid.uuid4().hex[:6]}", is_superuser=True)
    headers = await bearer_headers(admin)
    en, zh = await _both(client, "get", "/api/v1/roles?name=a%00b", headers=headers)
    assert en["code"] == 42200
    assert en["data"] == [{"loc": ["query", "name"], "msg": "must not contain NUL characters"}]
    assert zh["data"] == [{"loc": ["query", "name"], "msg": "不能包含 NUL 字符"}]


async def _login(client, language: str | None) -> dict:
    key = envelope_of(await client.get("/api/v1/auth/keys/public"))["data"]
    sealed = encrypt_like_webcrypto(key["public_key"], "wrong-password", key["challenge"])
    headers = {"Accept-Language": language} if language else {}
    body = json.dumps({"username": "nobody-here", "password": sealed})
    response = await client.post("/api/v1/auth/login", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    return envelope_of(response)


async def test_api_40104_bad_credentials(client):
    en, zh = await _login(client, None), await _login(client, "zh-CN")
    assert (en["code"], en["message"]) == (40104, "Invalid username or password")
    assert (zh["code"], zh["message"]) == (40104, "用户名或密码错误")


async def test_api_regional_and_weighted_headers_choose_chinese(client):
    for header in ("zh-CN", "zh", "en;q=0.3, zh-cn;q=0.8"):
        response = await client.get("/api/v1/auth/user/info", headers={"Accept-Language": header})
        assert envelope_of(response)["message"] == "未登录", header
    for header in ("en-US", "fr", "de;q=1, ja;q=0.9", "garbage;;;q=zz"):
        response = await client.get("/api/v1/auth/user/info", headers={"Accept-Language": header})
        assert response.status_code == 401
        assert envelope_of(response)["message"] == "Not authenticated", header


async def test_api_ignores_the_language_cookie(client):
    """API calls follow Accept-Language only: the admin's language cookie does not switch bearer-token calls."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = await client.get("/api/v1/auth/user/info")
    assert envelope_of(response)["message"] == "Not authenticated"


async def test_api_success_message_stays_ok(client):
    response = await client.get("/api/v1/health", headers={"Accept-Language": "zh-Hans"})
    assert envelope_of(response) == {"code": 0, "message": "OK", "data": {"status": "ok"}}


async def test_api_concurrent_requests_keep_their_own_language(client):
    """The language is per request (context-local on the event loop): interleaved calls never swap messages."""
    import asyncio

    async def call(language: str | None) -> str:
        headers = {"Accept-Language": language} if language else {}
        response = await client.get("/api/v1/auth/user/info", headers=headers)
        return envelope_of(response)["message"]

    languages = [None, "zh-Hans"] * 10
    messages = await asyncio.gather(*(call(language) for language in languages))
    expected = ["Not authenticated" if language is None else "未登录" for language in languages]
    assert messages == expected


# --- the admin ---------------------------------------------------------------------------------------------


def _switch_language(client: Client, language: str, next_url: str = "/admin/") -> None:
    response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url


def test_admin_login_page_switches_to_chinese_through_set_language() -> None:
    client = Client()
    english = client.get("/admin/login/")
    assert english.status_code == 200
    assert 'lang="en"' in english.content.decode()
    assert "Log in" in english.content.decode()

    _switch_language(client, "zh-hans", "/admin/login/")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    chinese = client.get("/admin/login/").content.decode()
    assert 'lang="zh-hans"' in chinese
    assert "登录" in chinese
    assert "Log in" not in chinese


def test_admin_index_in_chinese_shows_project_strings_translated() -> None:
    admin = UserFactory.create(username=f"root-{uuid.uuid4().hex[:6]}", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    english = client.get("/admin/").content.decode()
    assert "Operation logs" in english and "Online users" in english

    _switch_language(client, "zh-hans")
    response = client.get("/admin/")
    assert response.status_code == 200
    chinese = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    # Django's own catalog (site administration) and the project's (sidebar, pages).
    assert "站点管理" in chinese or "首页" in chinese
    assert "操作日志" in chinese and "在线用户" in chinese
    assert "Operation logs" not in chinese
    # The switcher offers both languages and posts to set_language.
    assert 'action="/i18n/setlang/"' in chinese
    assert 'value="zh-hans"' in chinese and 'value="en"' in chinese

    _switch_language(client, "en")
    assert "Operation logs" in client.get("/admin/").content.decode()


def test_the_theme_strings_are_unfolds_own_and_translated() -> None:
    import unfold

    from apps.console.theme_strings import THEME_STRINGS

    sources = "".join(
        path.read_text(encoding="utf-8", errors="ignore")
        for path in Path(unfold.__file__).parent.rglob("*")
        if path.suffix in {".html", ".py"}
    )
    for msgid in THEME_STRINGS:
        assert msgid in sources, f"unfold no longer uses {msgid!r}: drop it from apps/console/theme_strings.py"
    with translation.override("zh-hans"):
        untranslated = [msgid for msgid in THEME_STRINGS if translation.gettext(msgid) == msgid]
    assert not untranslated


def test_admin_pages_in_chinese_translate_the_themes_own_strings() -> None:
    admin = UserFactory.create(username=f"theme-{uuid.uuid4().hex[:6]}", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    english = client.get("/admin/accounts/user/").content.decode()
    assert "Search apps and models..." in english
    _switch_language(client, "zh-hans")
    chinese = client.get("/admin/accounts/user/").content.decode()
    assert "搜索应用和模型" in chinese and "Search apps and models..." not in chinese


def test_admin_follows_accept_language_without_a_cookie() -> None:
    page = Client().get("/admin/login/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).content.decode()
    assert "登录" in page


def test_admin_set_language_refuses_an_unsupported_language() -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "xx-not-a-language", "next": "/admin/login/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert "Log in" in client.get("/admin/login/").content.decode()


def test_admin_set_language_never_redirects_off_site() -> None:
    response = Client().post("/i18n/setlang/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- the catalog -------------------------------------------------------------------------------------------


def _catalog(entries: polib.POFile | polib.MOFile) -> dict[tuple[str, str | None], tuple[str, ...]]:
    catalog: dict[tuple[str, str | None], tuple[str, ...]] = {}
    for entry in entries:
        if entry.obsolete or not entry.msgid:
            continue
        if entry.msgid_plural:
            forms = tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
        else:
            forms = (entry.msgstr,)
        catalog[(entry.msgid, entry.msgctxt)] = forms
    return catalog


def test_catalog_every_string_has_a_real_translation() -> None:
    po = polib.pofile(str(CATALOG_DIR / "django.po"))
    assert po.metadata["Plural-Forms"].startswith("nplurals=1;")
    assert not po.metadata_is_fuzzy  # a fuzzy header is left out of the .mo, and its plural rule with it
    assert len(po) > 100
    assert not po.fuzzy_entries()
    assert not po.untranslated_entries()
    for entry in po.translated_entries():
        for text in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
            assert text.strip(), entry.msgid
        # Placeholders survive translation (a lost %(name)s would raise or drop a value at render time).
        if "python-format" in entry.flags:
            source = sorted(polib_placeholders(entry.msgid))
            for text in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
                assert sorted(polib_placeholders(text)) == source, entry.msgid


def polib_placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%(?:\(\w+\))?[sdr]", text)


def test_catalog_compiled_mo_is_up_to_date_with_the_po(tmp_path: Path) -> None:
    po = polib.pofile(str(CATALOG_DIR / "django.po"))
    fresh = tmp_path / "django.mo"
    po.save_as_mofile(str(fresh))
    shipped = polib.mofile(str(CATALOG_DIR / "django.mo"))
    assert _catalog(shipped) == _catalog(polib.mofile(str(fresh))), "run compilemessages (see docs/i18n.md)"
    assert shipped.metadata.get("Plural-Forms", "").startswith("nplurals=1;")
