"""The object rules and the scope union as pure functions (no database)."""

import pytest

from apps.accounts.policies import ensure_department_in_scope, ensure_user_in_scope
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.org.policies import ensure_can_delete_department, ensure_can_give_scope, ensure_valid_parent
from apps.org.scope import Scope, combine


def test_combine_unions_the_role_scopes():
    subtree = [4, 5, 6]
    assert combine(is_superuser=True, role_scopes=[("self", [])], own_department=4, own_subtree=subtree) == (
        True,
        frozenset(),
    )
    assert combine(is_superuser=False, role_scopes=[], own_department=4, own_subtree=subtree) == (False, frozenset())
    assert combine(
        is_superuser=False, role_scopes=[("department", []), ("custom", [9])], own_department=4, own_subtree=subtree
    ) == (False, frozenset({4, 9}))
    assert combine(
        is_superuser=False,
        role_scopes=[("department_and_below", []), ("self", [])],
        own_department=4,
        own_subtree=subtree,
    ) == (False, frozenset(subtree))
    assert combine(
        is_superuser=False, role_scopes=[("custom", [1]), ("all", [])], own_department=4, own_subtree=subtree
    ) == (True, frozenset())
    # Without a department, `department` and `department_and_below` add nothing.
    assert combine(
        is_superuser=False,
        role_scopes=[("department", []), ("department_and_below", [])],
        own_department=None,
        own_subtree=[],
    ) == (False, frozenset())


def test_scope_covers_self_and_its_departments():
    scope = Scope(everything=False, departments=frozenset({2}), user_id="me")
    assert scope.covers(user_id="me", department_id=None)
    assert scope.covers(user_id="other", department_id=2)
    assert not scope.covers(user_id="other", department_id=3)
    assert Scope(everything=True, departments=frozenset(), user_id="me").covers(user_id="x", department_id=None)
    assert Scope(everything=True, departments=frozenset(), user_id="me").user_q() is None


def test_user_policies():
    scope = Scope(everything=False, departments=frozenset({2}), user_id="me")
    ensure_user_in_scope(scope, user_id="other", department_id=2)
    with pytest.raises(NotFound):
        ensure_user_in_scope(scope, user_id="other", department_id=3)
    ensure_department_in_scope(scope, department_id=2)
    for outside in (3, None):
        with pytest.raises(PermissionDenied):
            ensure_department_in_scope(scope, department_id=outside)
    ensure_department_in_scope(Scope(everything=True, departments=frozenset(), user_id="me"), department_id=None)


def test_department_policies():
    ensure_can_delete_department(has_children=False, has_users=False)
    for facts in ({"has_children": True, "has_users": False}, {"has_children": False, "has_users": True}):
        with pytest.raises(Conflict):
            ensure_can_delete_department(**facts)
    ensure_valid_parent(department_path="/1/2/", parent_path="/1/3/")
    ensure_valid_parent(department_path="/1/2/", parent_path=None)
    for parent in ("/1/2/", "/1/2/7/"):
        with pytest.raises(ValidationFailed):
            ensure_valid_parent(department_path="/1/2/", parent_path=parent)
    # "/1/2/" is not an ancestor of "/1/22/": the separator ends every id.
    ensure_valid_parent(department_path="/1/2/", parent_path="/1/22/")


def test_no_one_gives_a_role_a_wider_reach_than_their_own():
    def give(scope, departments=(), *, sees_all=False, visible=(4, 5), subtree=(4, 5)):
        ensure_can_give_scope(
            sees_all=sees_all,
            visible_departments=frozenset(visible),
            own_subtree=frozenset(subtree),
            scope=scope,
            departments=frozenset(departments),
        )

    for scope in ("all", "department_and_below", "department", "self", "custom"):
        give(scope, (1, 2, 3), sees_all=True)
    give("custom", (4, 5))
    give("department")
    give("self")
    give("department_and_below")  # the caller sees their whole subtree
    with pytest.raises(PermissionDenied):
        give("all")
    with pytest.raises(PermissionDenied):
        give("custom", (4, 9))
    with pytest.raises(PermissionDenied):
        give("department_and_below", subtree=(4, 5, 6))  # part of the subtree is out of sight
    with pytest.raises(PermissionDenied):
        give("department_and_below", subtree=())  # no department at all


def test_a_whole_tree_scope_filters_with_not_null_instead_of_an_id_list():
    whole = Scope(everything=False, departments=frozenset({1, 2, 3}), user_id="u1", own_department=1, whole_tree=True)
    assert str(whole.user_q()) == "(AND: ('department__isnull', False))"
    assert str(whole.user_q(prefix="owner__")) == "(AND: ('owner__department__isnull', False))"
    homeless = Scope(
        everything=False, departments=frozenset({1, 2}), user_id="u1", own_department=None, whole_tree=True
    )
    assert str(homeless.user_q()) == "(OR: ('pk', 'u1'), ('department__isnull', False))"
