from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import StrictBool, field_validator

from apps.core.schemas import refuse_null


class PublicKeyOut(Schema):
    kid: str
    algorithm: Literal["RSA-OAEP-256"]
    public_key: str
    challenge: str
    challenge_expires_in: int


class LoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(
        ..., min_length=1, max_length=4096, description="base64(RSA-OAEP-256(JSON {password, challenge}))"
    )
    captcha_id: str | None = Field(
        None, max_length=64, description="After repeated failures (40108): GET /auth/captcha"
    )
    captcha_answer: str | None = Field(None, max_length=32, description="The characters in that captcha's image")


class PlainLoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=4096)
    captcha_id: str | None = Field(None, max_length=64)
    captcha_answer: str | None = Field(None, max_length=32)


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


class PermissionOut(Schema):
    id: int
    code: str
    method: str
    path: str
    summary: str
    tag: str


class PermissionFilter(Schema):
    tag: str | None = None
    search: str | None = Field(None, max_length=200, description="Substring of the code or summary")


class RoleIn(Schema):
    name: str = Field(..., min_length=1, max_length=150)
    description: str = Field("", max_length=2000)
    is_active: StrictBool = True
    permissions: list[str] = Field(default_factory=list, max_length=1000)


class RolePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=150)
    description: str | None = Field(None, max_length=2000)
    is_active: StrictBool | None = None
    permissions: list[str] | None = Field(None, max_length=1000)

    _present = field_validator("name", "description", "is_active", "permissions", mode="before")(refuse_null)


class RoleOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    permissions: list[str]


class RoleFilter(Schema):
    search: str | None = Field(None, max_length=150)
    is_active: bool | None = None


class UserIn(Schema):
    username: str = Field(..., min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(..., min_length=1, max_length=4096, description="Sealed like login's password")
    email: str = Field("", max_length=254)
    full_name: str = Field("", max_length=150)
    is_active: StrictBool = True
    is_superuser: StrictBool = False
    roles: list[int] = Field(default_factory=list, max_length=200)


class UserPatch(Schema):
    password: str | None = Field(None, min_length=1, max_length=4096, description="Sealed like login's password")
    email: str | None = Field(None, max_length=254)
    full_name: str | None = Field(None, max_length=150)
    is_active: StrictBool | None = None
    is_superuser: StrictBool | None = None
    roles: list[int] | None = Field(None, max_length=200)

    _present = field_validator("password", "email", "full_name", "is_active", "is_superuser", "roles", mode="before")(
        refuse_null
    )


class UserOut(Schema):
    id: UUID
    username: str
    email: str
    full_name: str
    is_active: bool
    is_superuser: bool
    roles: list[int]
    date_joined: datetime
    last_login: datetime | None


class UserFilter(Schema):
    search: str | None = Field(None, max_length=150, description="Substring of username, email or full name")
    is_active: bool | None = None
    role: int | None = None


# TOTP digits or a backup code (letters, digits, dashes, spaces): anything else is 42200, never a lookup.
TWO_FACTOR_CODE = r"^[0-9A-Za-z -]+$"


class TwoFactorLoginIn(Schema):
    two_factor_token: str = Field(..., min_length=1, max_length=128, description="data.two_factor_token of 40106")
    code: str = Field(
        ...,
        min_length=1,
        max_length=32,
        pattern=TWO_FACTOR_CODE,
        description="A current TOTP code or an unused backup code",
    )


class TwoFactorCodeIn(Schema):
    code: str = Field(
        ..., min_length=1, max_length=32, pattern=TWO_FACTOR_CODE, description="A current TOTP code (or a backup code)"
    )


class TwoFactorEnrolOut(Schema):
    secret: str = Field(..., description="Base32 secret, for typing into an authenticator app")
    otpauth_uri: str
    qr_svg: str = Field(..., description="The otpauth URI as a QR code, SVG data URI")
    qr_png: str = Field(..., description="The otpauth URI as a QR code, PNG data URI")


class BackupCodesOut(Schema):
    backup_codes: list[str] = Field(..., description="Ten single-use codes, shown only now")


class TwoFactorStatusOut(Schema):
    enabled: bool
    backup_codes_left: int
    required: bool = Field(..., description="An active role of yours requires it: it cannot be turned off")


class TwoFactorEnrolmentIn(Schema):
    enrolment_token: str = Field(..., min_length=1, max_length=128, description="data.enrolment_token of 40111")


class TwoFactorEnrolmentConfirmIn(TwoFactorEnrolmentIn):
    code: str = Field(
        ..., min_length=1, max_length=32, pattern=TWO_FACTOR_CODE, description="A current code of the new secret"
    )


class EnrolledSignInOut(TokenPairOut):
    backup_codes: list[str] = Field(..., description="Ten single-use codes, shown only now")


class RoleTwoFactorIn(Schema):
    required: StrictBool = Field(..., description="Holders must sign in with a second factor")


class RoleTwoFactorOut(Schema):
    required: bool


class CaptchaOut(Schema):
    captcha_id: str
    image: str = Field(..., description="PNG data URI")
    expires_in: int


class ExpiredPasswordIn(Schema):
    password_change_token: str = Field(..., min_length=1, max_length=128, description="data of 40110")
    new_password: str = Field(
        ...,
        min_length=1,
        max_length=4096,
        description="Sealed like login's password (challenge from /auth/keys/public)",
    )
