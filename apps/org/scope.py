"""The data scope of a user: which users' data they see. Computed here; cached with the authorization state.

A user's effective scope is the union over their active roles (a role without a scope row has `all`);
superusers see all. Everyone sees their own data: `self` is the floor of every scope. The result is either
"all" or a set of department ids (subtrees already expanded), kept in the cached authorization state, which
any change of a role's scope, the tree or the user's department invalidates (apps/org/receivers.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Q

from apps.org.models import DataScope, Department, RoleScope


@dataclass(frozen=True)
class Scope:
    everything: bool
    departments: frozenset[int]
    user_id: str
    own_department: int | None = None  # the caller's department when the scope was computed
    whole_tree: bool = False  # `departments` holds every department: everyone with a department is in scope

    @classmethod
    def from_document(cls, document: dict[str, Any], user_id: str) -> "Scope":
        return cls(
            everything=document["all"],
            departments=frozenset(document["departments"]),
            user_id=user_id,
            own_department=document.get("own"),
            whole_tree=document.get("tree", False),
        )

    def user_q(self, prefix: str = "") -> Q | None:
        """The filter on users (or on rows through `prefix`, e.g. "owner__"); None when nothing is filtered."""
        if self.everything:
            return None
        mine = Q(**{f"{prefix}pk" if prefix else "pk": self.user_id})
        if not self.departments:
            return mine
        if self.whole_tree:  # a NOT NULL test instead of an IN list of every department id
            theirs = Q(**{f"{prefix}department__isnull": False})
        else:
            theirs = Q(**{f"{prefix}department_id__in": sorted(self.departments)})
        # The caller is in one of the departments already: without the OR, PostgreSQL counts with one hashed
        # IN filter instead of OR-ing two index scans (the cost of a wide scope's total).
        return theirs if self.own_department in self.departments else mine | theirs

    def covers(self, *, user_id: str, department_id: int | None) -> bool:
        return self.everything or user_id == self.user_id or department_id in self.departments


def combine(
    *,
    is_superuser: bool,
    role_scopes: Iterable[tuple[str, Iterable[int]]],
    own_department: int | None,
    own_subtree: Iterable[int],
) -> tuple[bool, frozenset[int]]:
    """The union of the role scopes (kind, chosen departments): (everything, department ids). Pure."""
    if is_superuser:
        return True, frozenset()
    departments: set[int] = set()
    for kind, chosen in role_scopes:
        if kind == DataScope.ALL:
            return True, frozenset()
        if kind == DataScope.DEPARTMENT_AND_BELOW:
            departments.update(own_subtree)
        elif kind == DataScope.DEPARTMENT and own_department is not None:
            departments.add(own_department)
        elif kind == DataScope.CUSTOM:
            departments.update(chosen)
    return False, frozenset(departments)


def _active_roles(user_id: str) -> Any:
    return Group.objects.filter(user__pk=user_id, profile__is_active=True)


async def compute_scope(*, user_id: str, is_superuser: bool) -> dict[str, Any]:
    if is_superuser:
        return {"all": True, "departments": []}
    role_ids = [pk async for pk in _active_roles(user_id).values_list("pk", flat=True)]
    kinds = {pk: DataScope.ALL.value for pk in role_ids}
    async for row in RoleScope.objects.filter(group_id__in=role_ids).values("group_id", "scope"):
        kinds[row["group_id"]] = row["scope"]
    chosen: dict[int, list[int]] = {}
    if DataScope.CUSTOM in kinds.values():
        async for pair in RoleScope.departments.through.objects.filter(rolescope_id__in=role_ids).values_list(
            "rolescope_id", "department_id"
        ):
            chosen.setdefault(pair[0], []).append(pair[1])
    own = await Department.objects.filter(users__pk=user_id).values("pk", "path").afirst()
    subtree: list[int] = []
    if own is not None and DataScope.DEPARTMENT_AND_BELOW in kinds.values():
        subtree = [
            pk async for pk in Department.objects.filter(path__startswith=own["path"]).values_list("pk", flat=True)
        ]
    everything, departments = combine(
        is_superuser=False,
        role_scopes=[(kind, chosen.get(pk, [])) for pk, kind in kinds.items()],
        own_department=own["pk"] if own else None,
        own_subtree=subtree,
    )
    whole = not everything and bool(departments) and len(departments) >= await Department.objects.acount()
    return {"all": everything, "departments": sorted(departments), "own": own["pk"] if own else None, "tree": whole}


def compute_scope_sync(*, user_id: str, is_superuser: bool) -> dict[str, Any]:
    """The same for sync callers (the admin)."""
    if is_superuser:
        return {"all": True, "departments": []}
    role_ids = list(_active_roles(user_id).values_list("pk", flat=True))
    kinds = {pk: DataScope.ALL.value for pk in role_ids}
    kinds.update(dict(RoleScope.objects.filter(group_id__in=role_ids).values_list("group_id", "scope")))
    chosen: dict[int, list[int]] = {}
    for role_id, department_id in RoleScope.departments.through.objects.filter(rolescope_id__in=role_ids).values_list(
        "rolescope_id", "department_id"
    ):
        chosen.setdefault(role_id, []).append(department_id)
    own = Department.objects.filter(users__pk=user_id).values("pk", "path").first()
    subtree: list[int] = []
    if own is not None and DataScope.DEPARTMENT_AND_BELOW in kinds.values():
        subtree = list(Department.objects.filter(path__startswith=own["path"]).values_list("pk", flat=True))
    everything, departments = combine(
        is_superuser=False,
        role_scopes=[(kind, chosen.get(pk, [])) for pk, kind in kinds.items()],
        own_department=own["pk"] if own else None,
        own_subtree=subtree,
    )
    whole = not everything and bool(departments) and len(departments) >= Department.objects.count()
    return {"all": everything, "departments": sorted(departments), "own": own["pk"] if own else None, "tree": whole}
