from apps.accounts.api.auth import router as auth_router
from apps.accounts.api.rbac import router as rbac_router

__all__ = ["auth_router", "rbac_router"]
