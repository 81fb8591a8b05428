"""The role editor's permission matrix: every operation in its row and column, and the form saves the ticks."""

from html.parser import HTMLParser
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client

from apps.accounts.models import ApiOperation, Role
from apps.accounts.widgets import METHODS, PermissionMatrixWidget
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/accounts/role/add/"


class MatrixParser(HTMLParser):
    """Every <input> of the page with the data-group and data-search of the rows around it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.inputs: list[dict[str, Any]] = []
        self.text_by_row: dict[str, list[str]] = {}
        self.count_text: list[str] = []

    def _enclosing(self, attr: str) -> str | None:
        for _tag, attrs in reversed(self.stack):
            if attr in attrs:
                return attrs[attr]
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "input":
            self.inputs.append(
                {**values, "_group": self._enclosing("data-group"), "_row": self._enclosing("data-search")}
            )
            return
        self.stack.append((tag, values))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        row = self._enclosing("data-search")
        if row is not None:
            self.text_by_row.setdefault(row, []).append(data)
        if any(attrs.get("id") == "perm-count" for _tag, attrs in self.stack):
            self.count_text.append(data)


def _parse(html: str) -> MatrixParser:
    parser = MatrixParser()
    parser.feed(html)
    return parser


@pytest.fixture
def superuser_client() -> Client:
    user = UserFactory.create(username="matrix-root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def _profile_inline(prefix: str = "profile") -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1",
        f"{prefix}-0-description": "",
        f"{prefix}-0-is_active": "on",
    }


def _codes(role: Any) -> set[str]:
    return set(role.permissions.values_list("codename", flat=True))


def test_role_add_page_renders_every_operation_in_its_row_and_column(superuser_client: Client) -> None:
    operations = list(ApiOperation.objects.select_related("permission"))
    assert len(operations) > 20  # the route table is synced after migrate
    response = superuser_client.get(ADD_URL)
    assert response.status_code == 200
    page = _parse(response.content.decode())
    cells = {i["data-perm-code"]: i for i in page.inputs if "data-perm-code" in i}
    assert set(cells) == {op.permission.codename for op in operations}
    for op in operations:
        cell = cells[op.permission.codename]
        assert cell["name"] == "permissions"
        assert cell["value"] == str(op.permission_id)
        assert cell["data-method"] == op.method
        assert cell["_group"] == (op.tag or "other")
        assert op.path.lower() in cell["_row"].split()
        assert op.summary in cell["title"]
        assert "checked" not in cell
        details = " ".join(page.text_by_row[cell["_row"]])
        assert op.path in details
        assert op.summary in details  # the details line under the path, not only the tooltip


def test_role_add_page_has_search_count_and_select_all_controls(superuser_client: Client) -> None:
    html = superuser_client.get(ADD_URL).content.decode()
    page = _parse(html)
    by_id = {i.get("id"): i for i in page.inputs}
    assert by_id["perm-search"]["type"] == "search"
    assert "name" not in by_id["perm-search"]  # the filter box is never posted
    tags = {op.tag or "other" for op in ApiOperation.objects.all()}
    methods = set(ApiOperation.objects.values_list("method", flat=True))
    columns = {i["data-select-column"] for i in page.inputs if "data-select-column" in i}
    groups = {i["data-select-group"] for i in page.inputs if "data-select-group" in i}
    rows = [i for i in page.inputs if "data-select-row" in i]
    assert columns == set(METHODS) | methods
    assert groups == tags
    assert len(rows) == len(set(ApiOperation.objects.values_list("tag", "path")))
    for control in [i for i in page.inputs if any(k.startswith("data-select-") for k in i)]:
        assert "name" not in control  # select-all boxes only tick others; they are never posted
    assert "".join(page.count_text).split()[0] == "0"
    assert "accounts/permission_matrix.js" in html
    assert "accounts/permission_matrix.css" in html
    assert finders.find("accounts/permission_matrix.js")
    assert finders.find("accounts/permission_matrix.css")


def test_role_change_page_ticks_exactly_the_role_codes(superuser_client: Client) -> None:
    chosen = list(Permission.objects.filter(api_operation__isnull=False).order_by("codename")[:3])
    role = Role.objects.create(name="auditors")
    role.permissions.set(chosen)
    page = _parse(superuser_client.get(f"/admin/accounts/role/{role.pk}/change/").content.decode())
    ticked = {i["data-perm-code"] for i in page.inputs if "data-perm-code" in i and "checked" in i}
    assert ticked == {p.codename for p in chosen}
    assert "".join(page.count_text).split()[0] == "3"


def test_posting_the_matrix_saves_exactly_those_codes(superuser_client: Client) -> None:
    operations = list(ApiOperation.objects.select_related("permission").order_by("path", "method"))
    first, second = operations[:4], operations[4:7]
    response = superuser_client.post(
        ADD_URL,
        {"name": "matrix-role", "permissions": [str(op.permission_id) for op in first], **_profile_inline()},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    role = Role.objects.get(name="matrix-role")
    assert _codes(role) == {op.permission.codename for op in first}

    # A change replaces the selection: unticked codes are removed, new ones added.
    response = superuser_client.post(
        f"/admin/accounts/role/{role.pk}/change/",
        {
            "name": "matrix-role",
            "permissions": [str(op.permission_id) for op in second],
            **_profile_inline(),
            "profile-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _codes(role) == {op.permission.codename for op in second}

    response = superuser_client.post(
        f"/admin/accounts/role/{role.pk}/change/", {"name": "matrix-role", **_profile_inline()}
    )
    assert response.status_code == 302
    assert _codes(role) == set()


def test_posting_an_unknown_permission_is_a_form_error(superuser_client: Client) -> None:
    missing = (Permission.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    response = superuser_client.post(
        ADD_URL, {"name": "bad-role", "permissions": [str(missing), "not-a-number"], **_profile_inline()}
    )
    assert response.status_code == 200  # the form again, with the error; never a 500
    assert not Role.objects.filter(name="bad-role").exists()
    assert "errorlist" in response.content.decode() or "Select a valid choice" in response.content.decode()


def test_choices_that_are_not_api_operations_are_listed_apart() -> None:
    """Admin permissions offered next to API codes stay tickable, under "Other permissions"."""
    api = Permission.objects.filter(api_operation__isnull=False)
    extra = Permission.objects.get(content_type__app_label="storage", codename="manage_all_files")

    class Form(forms.Form):
        permissions = forms.ModelMultipleChoiceField(
            queryset=Permission.objects.filter(pk__in=[*api.values_list("pk", flat=True), extra.pk]),
            widget=PermissionMatrixWidget,
            required=False,
        )

    some_api = api.order_by("codename").first()
    assert some_api is not None
    page = _parse(str(Form(initial={"permissions": [extra.pk, some_api.pk]})["permissions"]))
    extras = [i for i in page.inputs if "data-perm-extra" in i]
    assert [(i["value"], "checked" in i) for i in extras] == [(str(extra.pk), True)]
    assert extras[0]["name"] == "permissions"
    ticked = {i["data-perm-code"] for i in page.inputs if "data-perm-code" in i and "checked" in i}
    assert ticked == {some_api.codename}
    assert "".join(page.count_text).split()[0] == "2"

    bound = Form(data={"permissions": [str(extra.pk), str(some_api.pk)]})
    assert bound.is_valid(), bound.errors
    assert {p.pk for p in bound.cleaned_data["permissions"]} == {extra.pk, some_api.pk}
