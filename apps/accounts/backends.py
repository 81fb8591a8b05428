"""Django's model backend, answering from the same grants as the API (see apps/accounts/admin_access.py).

A user's permissions are those of their *active* roles: for staff, the admin permissions their API codes map
to, plus the real Django permissions of those roles that no API code decides (e.g. storage.manage_all_files)
and the user's own. They are computed once per user object, which the admin loads afresh for every request,
so a role change shows on the next request. Superusers keep everything; entering the admin still needs is_staff.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import QuerySet

from apps.accounts.admin_access import ADMIN_PERMISSIONS, derived_permissions
from apps.accounts.authz import API_PERMISSION_FILTER

GRANTS_CACHE = "_role_grants_cache"
PERM_CACHE = "_perm_cache"  # ModelBackend's own attribute: code that clears it keeps working


@dataclass(frozen=True)
class Grants:
    codes: frozenset[str]  # API codes (METHOD:/api/v1/...) of the user's active roles
    other: frozenset[str]  # non-API permissions (app_label.codename) of the active roles and the user's own


def _is_api(app_label: str, model: str) -> bool:
    return (app_label, model) == (
        API_PERMISSION_FILTER["content_type__app_label"],
        API_PERMISSION_FILTER["content_type__model"],
    )


def grants_of(user: Any) -> Grants:
    """What the user's active roles grant (cached on the user object, like ModelBackend's caches)."""
    cached: Grants | None = getattr(user, GRANTS_CACHE, None)
    if cached is not None:
        return cached
    codes: set[str] = set()
    other: set[str] = set()
    if user.is_active and not user.is_anonymous:
        fields = ("content_type__app_label", "content_type__model", "codename")
        from_roles = Permission.objects.filter(group__user=user, group__profile__is_active=True)
        for app_label, model, codename in from_roles.values_list(*fields).distinct():
            if _is_api(app_label, model):
                codes.add(codename)
            else:
                other.add(f"{app_label}.{codename}")
        # A user's own API permissions grant nothing in the API either: only roles do.
        own = Permission.objects.filter(user=user).exclude(**API_PERMISSION_FILTER)
        other.update(f"{app_label}.{codename}" for app_label, _model, codename in own.values_list(*fields))
    grants = Grants(codes=frozenset(codes), other=frozenset(other))
    setattr(user, GRANTS_CACHE, grants)
    return grants


def api_codes_of(user: Any) -> frozenset[str]:
    return grants_of(user).codes


class RoleAwareModelBackend(ModelBackend):
    def _get_group_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.filter(group__in=user_obj.groups.filter(profile__is_active=True))

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cached: set[str] | None = getattr(user_obj, PERM_CACHE, None)
        if cached is None:
            cached = self._all_permissions(user_obj)
            setattr(user_obj, PERM_CACHE, cached)
        return cached

    @staticmethod
    def _all_permissions(user: Any) -> set[str]:
        if user.is_superuser:
            every = Permission.objects.exclude(**API_PERMISSION_FILTER).values_list(
                "content_type__app_label", "codename"
            )
            return {f"{app_label}.{codename}" for app_label, codename in every} | set(ADMIN_PERMISSIONS)
        grants = grants_of(user)
        perms = set(grants.other)
        if user.is_staff:
            perms |= derived_permissions(grants.codes)
        return perms
