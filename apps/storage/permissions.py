"""Who may act on whose files."""

from asgiref.sync import sync_to_async

from apps.accounts.models import User
from apps.storage.models import MANAGE_ALL_FILES


async def can_manage_all_files(user: User) -> bool:
    """The model permission `storage.manage_all_files` (through a role, i.e. a group), or a superuser."""
    return bool(await sync_to_async(user.has_perm)(MANAGE_ALL_FILES))
