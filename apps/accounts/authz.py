"""The cached authorization state of a user: a snapshot of the user, their roles and API permission codes.

It lives in Redis tagged with two versions: a global one (bumped by any role/permission change) and the user's
(bumped by any change to the user or their roles). A request whose versions differ recomputes it, so a change
is seen by the very next request; versions are bumped after the transaction commits.
"""

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from apps.accounts.models import User
from apps.core.redis import async_redis, key, sync_redis

SNAPSHOT_FIELDS = (
    "id",
    "username",
    "email",
    "full_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
)
API_PERMISSION_FILTER = {"content_type__app_label": "accounts", "content_type__model": "apipermission"}
STATE_TTL = 24 * 3600
KNOWN_STATES_LIMIT = 10_000  # users whose parsed state one process keeps
# The global version before any bump, and again after Redis lost its data: what a process derives under it may
# already be out of date without any version saying so, so nothing derived under it is remembered in-process.
UNVERSIONED = "0"
# The auth script's answer in place of the state document: this process's copy carries the current versions.
STATE_CURRENT = 1


def rememberable(authz_version: str) -> bool:
    """Whether what was derived under this global version may be kept for the requests that follow."""
    return authz_version != UNVERSIONED


def global_version_key() -> str:
    return key("authz", "gv")


def user_version_key(user_id: str) -> str:
    return key("authz", "uv", user_id)


def state_key(user_id: str) -> str:
    return key("authz", "state", user_id)


@dataclass(frozen=True)
class AuthzState:
    user: User
    codes: frozenset[str] = field(default_factory=frozenset)
    roles: tuple[tuple[int, str], ...] = ()  # (id, name) of every role the user holds, by name
    scope: dict[str, Any] = field(default_factory=lambda: {"all": False, "departments": []})  # apps/org/scope.py
    # Bodies rendered from this state alone (apps/accounts/selectors.py), shared by every request it serves:
    # they live exactly as long as the state, which is replaced as soon as a version it was built under moves.
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def allows(self, code: str) -> bool:
        return self.user.is_superuser or code in self.codes


def _user_row(snapshot: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The snapshot as from_db takes it: the field names in the model's concrete-field order, and their values."""
    names = [f.attname for f in User._meta.concrete_fields if f.attname in SNAPSHOT_FIELDS]
    values = []
    for name in names:
        value = snapshot.get(name)
        if name == "id":
            value = UUID(value)
        elif name in ("date_joined", "last_login") and value:
            value = datetime.fromisoformat(value)
        values.append(value)
    return names, values


@dataclass(frozen=True)
class _KnownState:
    versions: list[str]
    names: list[str]
    values: list[Any]
    codes: frozenset[str]
    roles: tuple[tuple[int, str], ...]
    scope: dict[str, Any]
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def state(self) -> AuthzState:
        # A new instance per request: views may set attributes on request.auth; from_db marks it as loaded, and
        # the password stays deferred (services re-read the row to use it).
        user = User.from_db("default", self.names, self.values)
        return AuthzState(user=user, codes=self.codes, roles=self.roles, scope=self.scope, rendered=self.rendered)


class _KnownStates:
    """This process's parsed states, newest use last. A copy is used only when Redis says, in the same script
    that reads the versions, that the versions are its own and the shared document still exists (after Redis
    lost its data, every copy is recomputed)."""

    def __init__(self, limit: int = KNOWN_STATES_LIMIT) -> None:
        self.limit = limit
        self._states: OrderedDict[str, _KnownState] = OrderedDict()

    def versions(self, user_id: str) -> list[str]:
        known = self._states.get(user_id)
        return known.versions if known else ["", ""]

    def get(self, user_id: str, versions: list[str]) -> _KnownState | None:
        known = self._states.get(user_id)
        if known is None or known.versions != versions:
            return None
        self._states.move_to_end(user_id)
        return known

    def put(self, user_id: str, document: dict[str, Any]) -> _KnownState:
        names, values = _user_row(document["user"])
        known = _KnownState(
            versions=list(document["v"]),
            names=names,
            values=values,
            codes=frozenset(document["codes"]),
            roles=tuple((role_id, name) for role_id, name in document["roles"]),
            scope=document["scope"],
        )
        self._states[user_id] = known
        self._states.move_to_end(user_id)
        while len(self._states) > self.limit:
            self._states.popitem(last=False)
        return known


known_states = _KnownStates()


async def _compute(user_id: str) -> dict[str, Any] | None:
    from django.contrib.auth.models import Group, Permission

    row = await User.objects.filter(pk=user_id).values(*SNAPSHOT_FIELDS).afirst()
    if row is None:
        return None
    codes: list[str] = []
    if not row["is_superuser"]:
        codes = [
            code
            async for code in Permission.objects.filter(
                **API_PERMISSION_FILTER, group__user__pk=user_id, group__profile__is_active=True
            )
            .values_list("codename", flat=True)
            .distinct()
        ]
    # Renaming or deleting a role bumps the global version too, so the names here are never stale.
    roles = [
        [role["id"], role["name"]]
        async for role in Group.objects.filter(user__pk=user_id).order_by("name").values("id", "name")
    ]
    snapshot = {
        name: (value.isoformat() if isinstance(value, datetime) else str(value) if name == "id" else value)
        for name, value in row.items()
    }
    from apps.org.scope import compute_scope

    scope = await compute_scope(user_id=user_id, is_superuser=row["is_superuser"])
    return {"user": snapshot, "codes": sorted(codes), "roles": roles, "scope": scope}


async def resolve_state(
    user_id: str, cached: str | int | None, global_version: str | None, user_version: str | None
) -> AuthzState | None:
    """The state from this process's copy or the cached document when its versions are current, else
    recomputed and cached. `cached` is STATE_CURRENT when Redis vouched for this process's copy."""
    versions = [global_version or UNVERSIONED, user_version or UNVERSIONED]
    if cached == STATE_CURRENT and (known := known_states.get(user_id, versions)) is not None:
        return known.state()
    if isinstance(cached, str):
        document = json.loads(cached)
        if document.get("v") == versions and "scope" in document:  # documents cached before scopes: recompute
            return known_states.put(user_id, document).state()
    document = await _compute(user_id)
    if document is None:
        return None
    document["v"] = versions
    await async_redis().set(state_key(user_id), json.dumps(document), ex=STATE_TTL)
    return known_states.put(user_id, document).state()


async def authz_state(user_id: str) -> AuthzState | None:
    redis = async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(state_key(user_id))
        pipe.get(global_version_key())
        pipe.get(user_version_key(user_id))
        cached, global_version, user_version = await pipe.execute()
    return await resolve_state(user_id, cached, global_version, user_version)


def bump_global() -> None:
    """Invalidate every cached state once the current transaction commits."""
    transaction.on_commit(_bump_global_now)


def _bump_global_now() -> None:
    # The first bump starts from a random number, not 0: after Redis loses its data, the versions it hands out
    # again never repeat one a process may still remember (see rbac_selectors.role_list_body).
    with sync_redis().pipeline(transaction=False) as pipe:
        pipe.set(global_version_key(), secrets.randbelow(2**62), nx=True)
        pipe.incr(global_version_key())
        pipe.execute()


def bump_user(user_id: object) -> None:
    transaction.on_commit(lambda: sync_redis().incr(user_version_key(str(user_id))))
