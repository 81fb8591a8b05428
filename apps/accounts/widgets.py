"""The role editor's permission widget: API operations as a matrix of resources by HTTP method.

It is a CheckboxSelectMultiple underneath (one `<input type=checkbox name=... value=<permission pk>>` per
choice), so the form posts and validates exactly like the stock widget. Choices that are not API operations
(admin permissions such as `storage.manage_all_files`) are listed below the matrix as plain checkboxes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.widgets import CHECKBOX_CLASSES

from apps.accounts.models import ApiOperation

METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
UNTAGGED = "other"


@dataclass
class Cell:
    id: str
    value: str
    code: str
    summary: str
    checked: bool


@dataclass
class Row:
    path: str
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def search_text(self) -> str:
        parts = [self.path]
        for cell in self.cells.values():
            parts += [cell.code, cell.summary]
        return " ".join(parts).lower()


@dataclass
class Group:
    tag: str
    rows: dict[str, Row] = field(default_factory=dict)


@dataclass
class Extra:
    id: str
    value: str
    label: str
    checked: bool


def _flat_choices(choices: Iterable[Any]) -> list[tuple[str, str]]:
    """(value, label) of every choice, optgroups flattened; model choice values become their pk as text."""
    flat: list[tuple[str, str]] = []
    for value, label in choices:
        if isinstance(label, list | tuple):
            flat += _flat_choices(label)
        else:
            flat.append((str(getattr(value, "value", value)), str(label)))
    return flat


class PermissionMatrixWidget(forms.CheckboxSelectMultiple):
    """Rows: tag, then path; columns: HTTP methods; cells: one checkbox per operation (summary on hover)."""

    template_name = "admin/accounts/widgets/permission_matrix.html"

    class Media:
        css = {"all": ("accounts/permission_matrix.css",)}
        js = ("accounts/permission_matrix.js",)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        base_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        selected = set(self.format_value(value))
        choices = _flat_choices(self.choices)
        labels = dict(choices)
        operations = {
            str(op.permission_id): op
            for op in ApiOperation.objects.filter(permission_id__in=[v for v, _ in choices if v.isdigit()])
            .select_related("permission")
            .only("permission_id", "method", "path", "summary", "tag", "permission__codename")
        }
        groups: dict[str, Group] = {}
        methods = list(METHODS)
        extras: list[Extra] = []
        for index, (choice_value, _label) in enumerate(choices):
            element_id = f"{base_id}_{index}"
            op = operations.get(choice_value)
            if op is None:
                extras.append(Extra(element_id, choice_value, labels[choice_value], choice_value in selected))
                continue
            method = op.method.upper()
            if method not in methods:
                methods.append(method)
            tag = op.tag or UNTAGGED
            row = groups.setdefault(tag, Group(tag)).rows.setdefault(op.path, Row(op.path))
            row.cells[method] = Cell(
                element_id, choice_value, op.permission.codename, op.summary, choice_value in selected
            )
        ordered = [groups[tag] for tag in sorted(groups, key=lambda t: (t == UNTAGGED, t.lower()))]
        for group in ordered:
            group.rows = dict(sorted(group.rows.items()))
        context["matrix"] = {
            "name": name,
            "base_id": base_id,
            "methods": methods,
            "groups": [
                {
                    "tag": group.tag,
                    "rows": [
                        {
                            "path": row.path,
                            "search": f"{group.tag.lower()} {row.search_text}",
                            "cells": [(method, row.cells.get(method)) for method in methods],
                            "details": [(m, row.cells[m].summary) for m in methods if m in row.cells],
                        }
                        for row in group.rows.values()
                    ],
                }
                for group in ordered
            ],
            "extras": extras,
            "total": len(choices),
            "selected": sum(1 for v, _ in choices if v in selected),
            "checkbox_class": " ".join(CHECKBOX_CLASSES),
            "disabled": bool(context["widget"]["attrs"].get("disabled")),
            "labels": {
                "search": _("Filter by path, tag, summary or code"),
                "other": _("Other permissions"),
            },
        }
        return context

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        # The project's template engine (templates/ is not on the form renderer's path).
        return SafeString(render_to_string(self.template_name, self.get_context(name, value, attrs)))
