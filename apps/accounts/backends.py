"""Django's model backend, except that a deactivated role grants nothing (admin and has_perm too)."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import QuerySet


class RoleAwareModelBackend(ModelBackend):
    def _get_group_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.filter(group__in=user_obj.groups.filter(profile__is_active=True))
