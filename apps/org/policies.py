"""Object rules of the organisation, as pure functions (no database): services call them with facts."""

from django.utils.translation import gettext

from apps.core.exceptions import Conflict, ValidationFailed


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
