"""Object rules for users that depend on the data scope, as pure functions: services pass the facts in."""

from django.utils.translation import gettext

from apps.core.exceptions import NotFound, PermissionDenied
from apps.org.scope import Scope


def ensure_user_in_scope(scope: Scope, *, user_id: str, department_id: int | None) -> None:
    """A user outside the actor's scope is "not found" to them, for writes as for reads (ids cannot be probed)."""
    if not scope.covers(user_id=user_id, department_id=department_id):
        raise NotFound(gettext("No such user"))


def ensure_department_in_scope(scope: Scope, *, department_id: int | None) -> None:
    """Nobody puts a user into a department outside their own scope (they would lose sight of them)."""
    if scope.everything:
        return
    if department_id is None or department_id not in scope.departments:
        raise PermissionDenied(gettext("You cannot place users in a department outside your data scope"))
