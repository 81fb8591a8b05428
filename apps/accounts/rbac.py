"""Permission questions other apps ask (websocket handlers, object-level checks)."""

from apps.accounts.authz import authz_state
from apps.accounts.models import User


async def user_has_permission(user: User, code: str) -> bool:
    """Whether the user's active roles grant the API permission `code` (superusers: always)."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    state = await authz_state(str(user.pk))
    return bool(state and state.user.is_active and state.allows(code))


async def user_permission_codes(user: User) -> frozenset[str]:
    state = await authz_state(str(user.pk))
    return state.codes if state else frozenset()
