"""A role's scope or the tree changing alters every cached data scope: bump the global authorization version.

A user's own department is a User field: saving the user bumps that user's version already
(apps/accounts/receivers.py), so a changed department is seen by their next request too.
"""

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.accounts.authz import bump_global
from apps.org.models import Department, RoleScope


@receiver(post_save, sender=Department)  # a new, moved or (de)activated node changes "department and below"
@receiver(post_delete, sender=Department)
@receiver(post_save, sender=RoleScope)
@receiver(post_delete, sender=RoleScope)
def scope_inputs_changed(sender: Any, **kwargs: Any) -> None:
    bump_global()


@receiver(m2m_changed, sender=RoleScope.departments.through)
def custom_departments_changed(sender: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        bump_global()
