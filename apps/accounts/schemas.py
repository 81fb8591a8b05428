from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Field, Schema


class PublicKeyOut(Schema):
    kid: str
    algorithm: Literal["RSA-OAEP-256"]
    public_key: str
    challenge: str
    challenge_expires_in: int


class LoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=4096, description="base64(RSA-OAEP-256(JSON {password, challenge}))")


class PlainLoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=4096)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_expires_in: int


class RefreshIn(Schema):
    refresh_token: str = Field(..., min_length=1, max_length=8192)


class PasswordChangeIn(Schema):
    old_password: str = Field(..., min_length=1, max_length=4096)
    new_password: str = Field(..., min_length=1, max_length=4096)


class RoleRef(Schema):
    id: int
    name: str


class UserInfoOut(Schema):
    id: UUID
    username: str
    email: str
    full_name: str
    is_superuser: bool
    roles: list[RoleRef]
    permissions: list[str]


class SessionOut(Schema):
    id: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip: str | None
    current: bool


class OperationOut(Schema):
    code: str
    method: str
    path: str
    summary: str
    tag: str
