"""Signal receivers: every login attempt becomes a login log (through the writer, never blocking).

Async, so `login_attempted.asend()` (how sign-in sends it) runs it without a thread hop; it only enqueues.
"""

from typing import Any

from apps.audit import writer
from apps.audit.records import login_record


async def on_login_attempted(
    sender: Any,
    *,
    username: str,
    user_id: str | None = None,
    success: bool,
    reason: str,
    ip: str | None = None,
    user_agent: str = "",
    request_id: str | None = None,
    channel: str = "api",
    event: str = "login",
    **kwargs: Any,
) -> None:
    writer.submit(
        "login",
        login_record(
            username=username,
            user_id=user_id,
            success=success,
            reason=reason,
            ip=ip,
            user_agent=user_agent,
            request_id=request_id,
            channel=channel,
            event=event,
        ),
    )
