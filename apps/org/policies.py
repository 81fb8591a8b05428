"""Object rules of the organisation, as pure functions (no database): services call them with facts."""

from django.utils.translation import gettext

from apps.core.exceptions import Conflict, PermissionDenied, ValidationFailed
from apps.org.models import DataScope


def ensure_can_delete_department(*, has_children: bool, has_users: bool) -> None:
    if has_children:
        raise Conflict(gettext("A department with sub-departments cannot be deleted"))
    if has_users:
        raise Conflict(gettext("A department with users cannot be deleted"))


def ensure_valid_parent(*, department_path: str, parent_path: str | None) -> None:
    """A department cannot move under itself or one of its own descendants (the tree would become a cycle)."""
    if parent_path is not None and parent_path.startswith(department_path):
        message = gettext("A department cannot move under itself or its own sub-departments")
        raise ValidationFailed(message, data=[{"loc": ["body", "parent"], "msg": message}])


def ensure_can_give_scope(
    *,
    sees_all: bool,
    visible_departments: frozenset[int],
    own_subtree: frozenset[int],
    scope: str,
    departments: frozenset[int],
) -> None:
    """No one gives a role a wider reach than their own (or they could hand it to themselves and widen it).

    Who sees everything may set any scope. Otherwise: not `all`; `custom` only with departments the caller
    sees; `department_and_below` only when the caller sees their own department's whole subtree.
    `department` and `self` reach no further than the holder's own department, which every scope may give.
    """
    if sees_all:
        return
    if scope == DataScope.ALL:
        raise PermissionDenied(gettext("Only someone who sees all data can give a role the scope all"))
    if scope == DataScope.CUSTOM and not departments <= visible_departments:
        raise PermissionDenied(gettext("Departments outside your data scope cannot be chosen"))
    if scope == DataScope.DEPARTMENT_AND_BELOW and not (own_subtree and own_subtree <= visible_departments):
        raise PermissionDenied(gettext("You cannot give a scope below your department: you do not see all of it"))
