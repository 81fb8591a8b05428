"""Who is online, for the admin: users with live sessions or open websockets, and ending their sessions.

Sessions are read and ended through apps.accounts.sessions, so ending one here is the same as a logout or
an API force logout: its tokens fail with 40103 at once and its websockets close (session_ended signal).
A session is named on the page by a digest of its id, never by the id itself (the id is inside its tokens).
"""

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.sessions import SessionInfo, sessions_end, sessions_end_all, sessions_of, user_sessions_key
from apps.core.exceptions import NotFound, PermissionDenied
from apps.core.redis import async_redis
from apps.org.selectors import scope_of, scope_of_sync, scoped_users
from apps.realtime.presence import connection_counts, online_counts

KICK_REASON = "force_logout"  # the reason the API's force logout gives, so clients see one story
SCAN_COUNT = 1000
SEARCH_MAX_LENGTH = 150  # the longest username/full name; longer text cannot match


@dataclass(frozen=True)
class SessionRow:
    handle: str
    user_agent: str
    ip: str | None
    created_at: datetime | None
    last_seen_at: datetime | None


@dataclass(frozen=True)
class OnlineUserRow:
    user_id: str
    username: str
    full_name: str
    is_superuser: bool
    connections: int
    sessions: list[SessionRow]


@dataclass(frozen=True)
class OnlinePage:
    rows: list[OnlineUserRow]
    total: int
    sessions: int  # live sessions on this page
    connections: int  # open websockets on this page


def session_handle(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:16]


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _row_of(session: SessionInfo) -> SessionRow:
    return SessionRow(
        handle=session_handle(session.id),
        user_agent=session.user_agent,
        ip=session.ip,
        created_at=_when(session.created_at),
        last_seen_at=_when(session.last_seen_at),
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _user_ids_with_sessions() -> set[str]:
    """Every user id with a session index in Redis (a SCAN: the admin page is rare, logins are not)."""
    prefix = user_sessions_key("")
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    ids: set[str] = set()
    async for name in async_redis().scan_iter(match=pattern, count=SCAN_COUNT):
        ids.add(str(name)[len(prefix) :])
    return ids


async def online_page(*, actor: User, search: str = "", offset: int = 0, limit: int = 50) -> OnlinePage:
    """One page of users with a live session or an open websocket in the actor's data scope, by username."""
    counts = await online_counts()
    ids = {user_id for user_id in (await _user_ids_with_sessions()) | set(counts) if _is_uuid(user_id)}
    users = scoped_users(User.objects.filter(pk__in=ids), await scope_of(actor))
    search = search.strip()[:SEARCH_MAX_LENGTH]
    if search:
        users = users.filter(
            Q(username__icontains=search) | Q(full_name__icontains=search) | Q(email__icontains=search)
        )
    total = await users.acount()
    page = [
        user
        async for user in users.order_by("username", "id").only("id", "username", "full_name", "is_superuser")[
            offset : offset + limit
        ]
    ]
    sessions = await asyncio.gather(*(sessions_of(str(user.pk)) for user in page))
    rows = [
        OnlineUserRow(
            user_id=str(user.pk),
            username=user.username,
            full_name=user.full_name,
            is_superuser=user.is_superuser,
            connections=counts.get(str(user.pk), 0),
            sessions=[_row_of(s) for s in user_sessions],
        )
        for user, user_sessions in zip(page, sessions, strict=True)
    ]
    return OnlinePage(
        rows=rows,
        total=total,
        sessions=sum(len(row.sessions) for row in rows),
        connections=sum(row.connections for row in rows),
    )


async def online_user(*, actor: User, user_id: str) -> OnlineUserRow:
    """One user with their live sessions and open websockets (for the confirmation page)."""
    user = await _target(actor, user_id)
    sessions = await sessions_of(str(user.pk))
    counts = await connection_counts([user.pk])
    return OnlineUserRow(
        user_id=str(user.pk),
        username=user.username,
        full_name=user.full_name,
        is_superuser=user.is_superuser,
        connections=counts.get(str(user.pk), 0),
        sessions=[_row_of(s) for s in sessions],
    )


async def _target(actor: User, user_id: str) -> User:
    """The user when in the actor's data scope (read afresh, as for a write); else NotFound, like an unknown id."""
    if not _is_uuid(user_id):
        raise NotFound(_("No such user"))
    scope = await sync_to_async(scope_of_sync)(actor)
    users = scoped_users(User.objects.filter(pk=user_id), scope)
    user = await users.only("id", "username", "full_name", "is_superuser").afirst()
    if user is None:
        raise NotFound(_("No such user"))
    return user


def ensure_can_kick(actor: User, *, target_is_superuser: bool) -> None:
    # The same guard rail as deleting a user: only a superuser may act on a superuser.
    if target_is_superuser and not actor.is_superuser:
        raise PermissionDenied(_("Only superusers can end the sessions of a superuser"))


async def session_kick(*, actor: User, user_id: str, handle: str) -> User:
    """End one session of the user (named by its handle); NotFound when it has already ended."""
    target = await _target(actor, user_id)
    ensure_can_kick(actor, target_is_superuser=target.is_superuser)
    sids = [s.id for s in await sessions_of(str(target.pk)) if session_handle(s.id) == handle]
    if not sids or not await sessions_end(user_id=str(target.pk), session_ids=sids, reason=KICK_REASON):
        raise NotFound(_("That session has already ended"))
    return target


async def user_kick(*, actor: User, user_id: str) -> tuple[User, int]:
    """End every session of the user (force logout); returns the user and how many sessions ended."""
    target = await _target(actor, user_id)
    ensure_can_kick(actor, target_is_superuser=target.is_superuser)
    ended = await sessions_end_all(user_id=str(target.pk), reason=KICK_REASON)
    return target, len(ended)
