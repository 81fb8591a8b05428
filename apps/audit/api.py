from django.http import HttpRequest
from ninja import Query, Router

from apps.audit.schemas import LoginLogFilter, LoginLogOut, OperationLogFilter, OperationLogOut
from apps.audit.selectors import login_log_list, operation_log_list
from apps.core.pagination import Page, PageIn

router = Router(tags=["audit"])


@router.get("/operations", response=Page[OperationLogOut], summary="List operation logs")
async def list_operation_logs(
    request: HttpRequest, filters: Query[OperationLogFilter], page: Query[PageIn]
) -> dict[str, object]:
    return await operation_log_list(filters=filters, page=page)


@router.get("/logins", response=Page[LoginLogOut], summary="List login logs")
async def list_login_logs(
    request: HttpRequest, filters: Query[LoginLogFilter], page: Query[PageIn]
) -> dict[str, object]:
    return await login_log_list(filters=filters, page=page)
