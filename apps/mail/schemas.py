from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Field, Schema

SendStatusName = Literal["queued", "retrying", "sent", "failed"]


class MailSendFilter(Schema):
    status: SendStatusName | None = None
    to: str | None = Field(None, min_length=1, max_length=254, description="Exact recipient address, any case")


class MailSendOut(Schema):
    mail_id: str
    to: list[str]
    template: str
    language: str | None
    subject: str | None
    status: SendStatusName
    attempts: int
    error: str | None
    task_id: str | None
    queued_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    resent_from: str | None = Field(None, description="The failed mail this one resends")
    resent_as: str | None = Field(None, description="The mail that resent this failed one")


class MailResendOut(Schema):
    mail_id: UUID = Field(..., description="The new mail (its send record is under this id)")
