"""Reads for the accounts app."""

from typing import Any

from django.contrib.auth.models import Permission

from apps.accounts import routes
from apps.accounts.access import Access
from apps.accounts.auth import AuthContext
from apps.accounts.authz import API_PERMISSION_FILTER, rememberable
from apps.accounts.schemas import UserInfoOut
from apps.accounts.sessions import sessions_of
from apps.core.envelope import render_body

# Every API permission code, remembered under the global authorization version it was read at: any change to
# the permission catalogue bumps that version (apps/accounts/receivers.py), so the list is never stale.
_all_codes: tuple[str, list[str]] = ("", [])


async def all_api_codes(authz_version: str) -> list[str]:
    global _all_codes
    version, codes = _all_codes
    if version == authz_version and rememberable(authz_version):
        return codes
    codes = [c async for c in Permission.objects.filter(**API_PERMISSION_FILTER).values_list("codename", flat=True)]
    _all_codes = (authz_version, codes)
    return codes


async def user_info(*, context: AuthContext) -> dict[str, Any]:
    user = context.user
    roles = [{"id": role_id, "name": name} for role_id, name in context.roles]  # from the cached state
    if user.is_superuser:
        codes = await all_api_codes(context.authz_version)
    else:
        codes = list(context.codes)
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "is_superuser": user.is_superuser,
        "roles": roles,
        "permissions": sorted(codes),
    }


async def user_info_body(*, context: AuthContext) -> str:
    """user_info as the API answers it (the envelope, rendered), once per cached authorization state.

    Every field comes from the state the auth class resolved (the permission catalogue of a superuser under
    the state's global version), so the body is kept on the state: a request that reuses the state reuses the
    body, and any change that could alter it moves a version and brings a new state. Validating and rendering
    some sixty permission codes cost more than the rest of the request.
    """
    if (body := context.rendered.get("user_info")) is not None:
        return body
    # What Ninja would do with the returned dict: validate it against the response schema, then render it.
    body = render_body(UserInfoOut.model_validate(await user_info(context=context)).model_dump())
    if rememberable(context.authz_version):
        context.rendered["user_info"] = body
    return body


async def session_list(*, context: AuthContext) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "created_at": s.created_at,
            "last_seen_at": s.last_seen_at,
            "user_agent": s.user_agent,
            "ip": s.ip,
            "current": s.id == context.session_id,
        }
        for s in await sessions_of(str(context.user.pk))
    ]


def user_routes(*, context: AuthContext) -> list[routes.OperationInfo]:
    """Operations the caller may call: signed-in ones and those their roles grant (superusers: all)."""
    return [
        op
        for op in routes.catalogue()
        if op.access is Access.SIGNED_IN or (op.access is Access.PERMISSION and context.allows(op.code))
    ]
