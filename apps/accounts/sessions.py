"""Login sessions in Redis: one per login, holding the refresh-token family, user agent, ip and timestamps.

Keys: sess:<sid> (hash, TTL = refresh lifetime), seen:<sid> (last seen), usess:<uid> (set of the user's sids).
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from asgiref.sync import async_to_sync
from django.conf import settings
from redis.exceptions import WatchError

from apps.accounts.signals import session_ended
from apps.core.redis import async_redis, key


def _now() -> str:
    return datetime.now(UTC).isoformat()


def user_agent_hash(user_agent: str) -> str:
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    created_at: str
    last_seen_at: str
    user_agent: str
    ip: str | None


class Rotation(Enum):
    ROTATED = "rotated"
    REUSED = "reused"  # the presented refresh token was already rotated: the family is compromised
    MISSING = "missing"


def session_key(sid: str) -> str:
    return key("sess", sid)


def seen_key(sid: str) -> str:
    return key("seen", sid)


def user_sessions_key(user_id: str) -> str:
    return key("usess", user_id)


async def session_create(*, user_id: str, user_agent: str, ip: str | None, refresh_jti: str) -> str:
    sid = uuid.uuid4().hex
    ttl = settings.REFRESH_TOKEN_TTL
    now = _now()
    redis = async_redis()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            session_key(sid),
            mapping={
                "uid": user_id,
                "rjti": refresh_jti,
                "ua": user_agent[:512],
                "ua_hash": user_agent_hash(user_agent),
                "ip": ip or "",
                "created_at": now,
            },
        )
        pipe.expire(session_key(sid), ttl)
        pipe.set(seen_key(sid), now, ex=ttl)
        pipe.sadd(user_sessions_key(user_id), sid)
        pipe.expire(user_sessions_key(user_id), ttl)
        await pipe.execute()
    return sid


async def session_fields(sid: str, *fields: str) -> list[str | None]:
    values = await async_redis().hmget(session_key(sid), list(fields))
    return [None if v is None else str(v) for v in values]


async def session_rotate(*, sid: str, presented_jti: str, new_jti: str) -> Rotation:
    """Compare-and-set the refresh family's current jti (atomic under concurrent refreshes)."""
    redis = async_redis()
    skey = session_key(sid)
    ttl = settings.REFRESH_TOKEN_TTL
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(skey)
            current, user_id = await pipe.hmget(skey, ["rjti", "uid"])
            if current is None or user_id is None:
                return Rotation.MISSING
            uid = user_id.decode() if isinstance(user_id, bytes) else user_id
            if current != presented_jti:
                return Rotation.REUSED
            pipe.multi()
            pipe.hset(skey, "rjti", new_jti)
            pipe.expire(skey, ttl)
            pipe.set(seen_key(sid), _now(), ex=ttl)
            # The user's index lives as long as their longest session: else a refreshed session outlives the
            # index, and logout-all, force logout and the session list no longer find it.
            pipe.expire(user_sessions_key(uid), ttl, gt=True)
            pipe.sadd(user_sessions_key(uid), sid)
            pipe.expire(user_sessions_key(uid), ttl, nx=True)
            await pipe.execute()
        except WatchError:
            return Rotation.REUSED  # another refresh with the same token won the race
    return Rotation.ROTATED


async def session_touch(sid: str) -> None:
    await async_redis().set(seen_key(sid), _now(), ex=settings.REFRESH_TOKEN_TTL)


async def sessions_of(user_id: str) -> list[SessionInfo]:
    redis = async_redis()
    sids = sorted(str(s) for s in await redis.smembers(user_sessions_key(user_id)))
    if not sids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for sid in sids:
            pipe.hgetall(session_key(sid))
            pipe.get(seen_key(sid))
        replies = await pipe.execute()
    sessions, stale = [], []
    for index, sid in enumerate(sids):
        data, seen = replies[2 * index], replies[2 * index + 1]
        if not data or data.get("uid") != user_id:
            stale.append(sid)
            continue
        sessions.append(
            SessionInfo(
                id=sid,
                user_id=user_id,
                created_at=data["created_at"],
                last_seen_at=seen or data["created_at"],
                user_agent=data.get("ua", ""),
                ip=data.get("ip") or None,
            )
        )
    if stale:
        await redis.srem(user_sessions_key(user_id), *stale)
    sessions.sort(key=lambda s: s.created_at)
    return sessions


async def _delete(user_id: str, sids: list[str]) -> None:
    if not sids:
        return
    async with async_redis().pipeline(transaction=True) as pipe:
        for sid in sids:
            pipe.delete(session_key(sid), seen_key(sid))
        pipe.srem(user_sessions_key(user_id), *sids)
        await pipe.execute()


async def sessions_end(*, user_id: str, session_ids: list[str], reason: str) -> list[str]:
    """End the given sessions of the user; publishes `session_ended` for those that were alive."""
    alive = [s.id for s in await sessions_of(user_id) if s.id in set(session_ids)]
    await _delete(user_id, alive)
    if alive:
        await session_ended.asend(sender=None, user_id=user_id, session_ids=alive, reason=reason)
    return alive


async def sessions_end_all(*, user_id: str, reason: str, keep: str | None = None) -> list[str]:
    sids = [s.id for s in await sessions_of(user_id) if s.id != keep]
    return await sessions_end(user_id=user_id, session_ids=sids, reason=reason)


def sessions_end_all_sync(*, user_id: str, reason: str) -> list[str]:
    """For sync callers (admin actions, model signals)."""
    return async_to_sync(sessions_end_all)(user_id=user_id, reason=reason)
