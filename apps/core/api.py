from django.http import HttpRequest, HttpResponse
from ninja import Router

from apps.accounts.access import public
from apps.core.envelope import json_error_response
from apps.core.exceptions import SERVICE_RETRY_AFTER, ErrorCode
from apps.core.health import readiness
from apps.core.schemas import HealthOut, ReadinessOut

router = Router(tags=["health"])


# One instance for every call: Ninja serializes an instance of the response schema without validating it again.
ALIVE = HealthOut(status="ok")


@router.get("/health", response=HealthOut, summary="Liveness")
@public
async def health(request: HttpRequest) -> HealthOut:
    return ALIVE


@router.get("/health/ready", response={200: ReadinessOut, 503: ReadinessOut}, summary="Readiness")
@public
async def health_ready(request: HttpRequest) -> dict[str, object] | HttpResponse:
    checks = await readiness()
    if all(state == "ok" for state in checks.values()):
        return {"status": "ok", "checks": checks}
    # 503 keeps the envelope's error code but still reports which dependency is down.
    response = json_error_response(503, ErrorCode.SERVICE_UNAVAILABLE, data={"status": "unavailable", "checks": checks})
    response["Retry-After"] = str(SERVICE_RETRY_AFTER)  # like every other 50300
    return response
