from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from apps.core.pagination import Page, PageIn
from apps.realtime.schemas import OnlineUserOut
from apps.realtime.selectors import online_user_list

router = Router(tags=["realtime"])


@router.get("/users/online", response=Page[OnlineUserOut], summary="Users with open websockets")
async def list_online_users(request: HttpRequest, page: Query[PageIn]) -> dict[str, Any]:
    return await online_user_list(actor=request.auth_context.user, page=page)  # type: ignore[attr-defined]
