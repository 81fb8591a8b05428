"""Model signals that keep cached authorization state honest and end sessions of deactivated users."""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.accounts.authz import bump_global, bump_user
from apps.accounts.models import Role, RoleProfile, User
from apps.accounts.sessions import sessions_end_all_sync


@receiver(post_save, sender=User)
def user_saved(sender: type[User], instance: User, **kwargs: Any) -> None:
    bump_user(instance.pk)
    if not instance.is_active:
        user_id = str(instance.pk)
        transaction.on_commit(lambda: sessions_end_all_sync(user_id=user_id, reason="deactivated"))


@receiver(post_delete, sender=User)
def user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    user_id = str(instance.pk)
    bump_user(user_id)
    transaction.on_commit(lambda: sessions_end_all_sync(user_id=user_id, reason="deleted"))


@receiver(m2m_changed, sender=User.groups.through)
def user_groups_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if reverse:  # group.user_set changed: affects the listed users (or everyone on clear)
        bump_global()
    else:
        bump_user(instance.pk)


@receiver(m2m_changed, sender=Group.permissions.through)
def group_permissions_changed(sender: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        bump_global()


@receiver(post_save, sender=Group)
@receiver(post_save, sender=Role)
def group_saved(sender: type[Group], instance: Group, created: bool, **kwargs: Any) -> None:
    if created:
        RoleProfile.objects.get_or_create(group=instance)
    bump_global()


@receiver(post_delete, sender=Group)
@receiver(post_delete, sender=Role)
@receiver(post_save, sender=RoleProfile)
@receiver(post_delete, sender=RoleProfile)
@receiver(post_save, sender=Permission)  # a renamed code (sync_permissions) changes what cached states hold
@receiver(post_delete, sender=Permission)
def roles_changed(sender: Any, **kwargs: Any) -> None:
    bump_global()
