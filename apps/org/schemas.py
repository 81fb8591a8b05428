"""Payloads of /departments, /posts and /roles/{id}/data-scope, and the organisation fields of a user."""

from typing import Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, field_validator

from apps.accounts.schemas import UserFilter, UserIn, UserOut, UserPatch
from apps.core.schemas import refuse_null

ScopeKind = Literal["all", "department_and_below", "department", "self", "custom"]
CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"


class DepartmentIn(Schema):
    parent: int | None = Field(None, description="Parent department id; null for a root")
    name: str = Field(..., min_length=1, max_length=150)
    code: str = Field(..., min_length=1, max_length=64, pattern=CODE_PATTERN)
    order: StrictInt = Field(0, ge=-1_000_000, le=1_000_000, description="Position among its siblings, ascending")
    leader: UUID | None = None
    is_active: StrictBool = True


class DepartmentPatch(Schema):
    parent: int | None = Field(None, description="Moves the department (and its subtree); null: a root")
    name: str | None = Field(None, min_length=1, max_length=150)
    code: str | None = Field(None, min_length=1, max_length=64, pattern=CODE_PATTERN)
    order: StrictInt | None = Field(None, ge=-1_000_000, le=1_000_000)
    leader: UUID | None = Field(None, description="null: no leader")
    is_active: StrictBool | None = None

    # Omitted means unchanged; null means "a root" for parent and "no leader" for leader, nothing elsewhere.
    _present = field_validator("name", "code", "order", "is_active", mode="before")(refuse_null)


class DepartmentOut(Schema):
    id: int
    parent: int | None
    name: str
    code: str
    order: int
    leader: UUID | None
    is_active: bool
    depth: int


class DepartmentNode(DepartmentOut):
    children: list["DepartmentNode"]


class DepartmentFilter(Schema):
    search: str | None = Field(None, max_length=150, description="Substring of the name or code")
    parent: int | None = Field(None, description="Only the direct children of this department")
    is_active: bool | None = None


class PostIn(Schema):
    name: str = Field(..., min_length=1, max_length=150)
    code: str = Field(..., min_length=1, max_length=64, pattern=CODE_PATTERN)
    order: StrictInt = Field(0, ge=-1_000_000, le=1_000_000)


class PostPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=150)
    code: str | None = Field(None, min_length=1, max_length=64, pattern=CODE_PATTERN)
    order: StrictInt | None = Field(None, ge=-1_000_000, le=1_000_000)

    _present = field_validator("name", "code", "order", mode="before")(refuse_null)


class PostOut(Schema):
    id: int
    name: str
    code: str
    order: int


class PostFilter(Schema):
    search: str | None = Field(None, max_length=150, description="Substring of the name or code")


class RoleScopeIn(Schema):
    scope: ScopeKind
    departments: list[int] = Field(default_factory=list, max_length=1000, description="For `custom` only")


class RoleScopeOut(Schema):
    role: int
    scope: ScopeKind
    departments: list[int]


class OrgUserIn(UserIn):
    department: int | None = Field(None, description="Department id; null: the caller's own department")
    posts: list[int] = Field(default_factory=list, max_length=200)


class OrgUserPatch(UserPatch):
    department: int | None = Field(None, description="Moves the user to this department")
    posts: list[int] | None = Field(None, max_length=200, description="Replaces the posts the user holds")

    _org_present = field_validator("department", "posts", mode="before")(refuse_null)


class OrgUserOut(UserOut):
    department: int | None
    posts: list[int]


class OrgUserFilter(UserFilter):
    department: int | None = Field(None, description="Users of this department")
    below: bool = Field(False, description="With `department`: also the users of its sub-departments")
