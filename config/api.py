"""The one NinjaAPI under /api/v1: envelope renderer, exception handlers, routers, OpenAPI wrapping."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from apps.accounts import routes
from apps.accounts.auth import JWTAuth
from apps.core.envelope import EnvelopeRenderer, wrap_openapi_schema
from apps.core.handlers import install_exception_handlers
from apps.core.parsers import StrictJSONParser
from apps.core.paths import API_ROOT, DOCS_PATH, OPENAPI_PATH
from apps.core.ratelimit import RateLimit
from apps.core.ratelimit import install as install_rate_limits


def docs_guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Docs and schema are public only when API_DOCS_PUBLIC (DEBUG by default); otherwise staff only."""
    staff_view = staff_member_required(view)

    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.API_DOCS_PUBLIC:
            return view(request, *args, **kwargs)
        return staff_view(request, *args, **kwargs)

    return guarded


class PlatformAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        wrapped = wrap_openapi_schema(dict(schema))
        schema.clear()
        schema.update(wrapped)
        return schema


api = PlatformAPI(
    title="Ninja Admin Platform API",
    version="1.0.0",
    description="Every response is an envelope {code, message, data}; code 0 is success.",
    urls_namespace="api",
    renderer=EnvelopeRenderer(),
    parser=StrictJSONParser(),  # bodies are JSON objects of finite numbers; no NUL in query values
    docs_url=DOCS_PATH,
    openapi_url=OPENAPI_PATH,
    docs_decorator=docs_guard,
    auth=JWTAuth(),
    throttle=RateLimit(),  # every route, per user or IP in its group (config/settings/ratelimit.py)
)
install_exception_handlers(api)
install_rate_limits(api)  # before the routers: it decorates every operation


def _register_routers() -> None:
    from apps.accounts.api import auth_router, rbac_router
    from apps.audit.api import router as audit_router
    from apps.core.api import router as core_router
    from apps.mail.api import router as mail_router
    from apps.onboarding.api import auth_router as onboarding_auth_router
    from apps.onboarding.api import router as invitations_router
    from apps.org.api import router as org_router
    from apps.realtime.api import router as realtime_router
    from apps.scheduler.api import router as scheduler_router
    from apps.storage.api import router as storage_router

    api.add_router("/", core_router)
    api.add_router("/auth", auth_router)
    api.add_router("/auth", onboarding_auth_router)  # password reset, invitation acceptance, sign-up
    api.add_router("/", realtime_router)  # before rbac_router: /users/online must win over /users/{user_id}
    api.add_router("/", rbac_router)
    api.add_router("/", org_router)  # departments, posts, role data scopes
    api.add_router("/audit", audit_router)
    api.add_router("/", scheduler_router)
    api.add_router("/", storage_router)
    api.add_router("/", invitations_router)
    api.add_router("/mail", mail_router)  # send records
    if settings.API_TEST_ROUTES:
        from apps.core.testing import router as testing_router

        api.add_router("/_test", testing_router)
    routes.finalize(api, API_ROOT)  # index operations for RBAC; public ones run without auth


_register_routers()
