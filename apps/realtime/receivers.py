"""Signal receivers: sockets follow the sessions they were opened with."""

from typing import Any

from apps.realtime.services import sessions_revoke


async def close_sockets_of_ended_sessions(
    sender: Any, *, session_ids: list[str], reason: str = "", **kwargs: Any
) -> None:
    """session_ended -> every socket of those sessions gets `session.revoked` and closes with 4401.

    Async so `asend` awaits it directly; Django runs it through async_to_sync for a plain `send` from sync code.
    """
    await sessions_revoke(session_ids=session_ids, reason=reason)
