"""Account events into the login log (the audit app stores what `login_attempted` carries)."""

import logging
from dataclasses import dataclass
from typing import Any

from apps.accounts.signals import CHANNEL_API, login_attempted

logger = logging.getLogger("apps.onboarding")

PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - event names, not secrets
PASSWORD_RESET_DONE = "password_reset_done"  # noqa: S105
INVITATION_ACCEPTED = "invitation_accepted"
SIGNUP_REQUESTED = "signup_requested"
EMAIL_VERIFIED = "email_verified"


@dataclass(frozen=True)
class Client:
    ip: str | None = None
    user_agent: str = ""
    request_id: str | None = None
    channel: str = CHANNEL_API


def _fields(
    *, event: str, username: str, user_id: str | None, success: bool, reason: str, client: Client
) -> dict[str, Any]:
    return {
        "username": username,
        "user_id": user_id,
        "success": success,
        "reason": reason,
        "ip": client.ip,
        "user_agent": client.user_agent,
        "request_id": client.request_id,
        "channel": client.channel,
        "event": event,
    }


async def record_event(
    *, event: str, username: str, user_id: str | None, success: bool, reason: str, client: Client
) -> None:
    fields = _fields(event=event, username=username, user_id=user_id, success=success, reason=reason, client=client)
    try:
        await login_attempted.asend(sender=None, **fields)
    except Exception:  # a broken listener must not break the account change
        logger.exception("login_attempted listener failed", extra={"event": event})


async def record_done(*, event: str, user: Any, client: Client) -> None:
    """A successful account event of `user`."""
    await record_event(
        event=event, username=user.username, user_id=str(user.pk), success=True, reason="ok", client=client
    )


def record_event_sync(
    *, event: str, username: str, user_id: str | None, success: bool, reason: str, client: Client
) -> None:
    fields = _fields(event=event, username=username, user_id=user_id, success=success, reason=reason, client=client)
    try:
        login_attempted.send(sender=None, **fields)
    except Exception:
        logger.exception("login_attempted listener failed", extra={"event": event})
