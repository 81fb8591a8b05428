from datetime import datetime
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import field_validator

USERNAME_PATTERN = r"^[\w.@+-]+$"
SEALED = "Sealed like login's password: base64(RSA-OAEP-256(JSON {password, challenge}))"


def _email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except DjangoValidationError as exc:
        raise ValueError("not a valid e-mail address") from exc
    return value


class PasswordResetIn(Schema):
    email: str = Field(..., min_length=3, max_length=254)

    @field_validator("email")
    @classmethod
    def check_email(cls, value: str) -> str:
        return _email(value)


class PasswordResetConfirmIn(Schema):
    token: str = Field(..., min_length=1, max_length=128, description="The token of the mailed link")
    new_password: str = Field(..., min_length=1, max_length=4096, description=SEALED)


class InvitationIn(Schema):
    email: str = Field(..., min_length=3, max_length=254)
    full_name: str = Field("", max_length=150)
    roles: list[int] = Field(default_factory=list, max_length=200)
    department: int | None = Field(None, description="Department id; default: the operator's own")
    language: Literal["en", "zh-hans"] | None = Field(None, description="Of the mail; default: the request's")

    @field_validator("email")
    @classmethod
    def check_email(cls, value: str) -> str:
        return _email(value)


class InvitationFilter(Schema):
    status: Literal["pending", "accepted", "revoked", "expired"] | None = None
    email: str | None = Field(None, max_length=254, description="Exact address, any case")


class InvitationRoleOut(Schema):
    id: int
    name: str


class InvitationOut(Schema):
    id: UUID
    email: str
    full_name: str
    roles: list[InvitationRoleOut]
    department: int | None
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: UUID | None
    user_id: UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    token: str = Field(..., min_length=1, max_length=128, description="The token of the mailed link")


class InvitationCheckOut(Schema):
    email: str
    full_name: str
    expires_at: datetime


class InvitationAcceptIn(Schema):
    token: str = Field(..., min_length=1, max_length=128, description="The token of the mailed link")
    username: str = Field(..., min_length=1, max_length=150, pattern=USERNAME_PATTERN)
    password: str = Field(..., min_length=1, max_length=4096, description=SEALED)
    full_name: str | None = Field(None, max_length=150, description="Default: the invitation's")


class AccountOut(Schema):
    id: UUID
    username: str
    email: str


class SignupIn(Schema):
    username: str = Field(..., min_length=1, max_length=150, pattern=USERNAME_PATTERN)
    email: str = Field(..., min_length=3, max_length=254)
    password: str = Field(..., min_length=1, max_length=4096, description=SEALED)
    full_name: str = Field("", max_length=150)

    @field_validator("email")
    @classmethod
    def check_email(cls, value: str) -> str:
        return _email(value)
