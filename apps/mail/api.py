"""Send records for operators: the list (filters status and to) and the resend of a failed mail."""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from apps.core.envelope import also_answers
from apps.core.pagination import Page, PageIn
from apps.mail.schemas import MailResendOut, MailSendFilter, MailSendOut
from apps.mail.selectors import send_list
from apps.mail.services import mail_resend

router = Router(tags=["mail"])


@router.get("/sends", response=Page[MailSendOut], summary="List send records, newest first")
async def list_sends(request: HttpRequest, filters: Query[MailSendFilter], page: Query[PageIn]) -> dict[str, Any]:
    return await send_list(filters=filters, page=page)


@router.post(
    "/sends/{mail_id}/resend",
    response={202: MailResendOut},
    summary="Queue a failed mail again (a new mail, with a send record of its own)",
    openapi_extra=also_answers(409),
)
async def resend(request: HttpRequest, mail_id: UUID) -> Any:
    return Status(202, await mail_resend(mail_id=str(mail_id)))
