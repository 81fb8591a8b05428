"""Operation-log middleware (filled in by the audit app)."""

from typing import Any

from apps.core.middleware import _HookMiddleware


class OperationLogMiddleware(_HookMiddleware):
    def before(self, request: Any) -> Any:
        return None
