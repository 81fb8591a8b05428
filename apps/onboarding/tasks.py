"""The worker's half of a password-reset request: find the accounts, mail each a link, log the request."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.mail.services import mail_queue_sync
from apps.onboarding import events
from apps.onboarding.events import Client, record_event_sync
from apps.onboarding.models import OneTimeToken, link_for, new_token
from apps.scheduler.base import task


@task(name="onboarding.password_reset_mail", schedulable=False)
def password_reset_mail(
    email: str,
    language: str | None = None,
    ip: str | None = None,
    user_agent: str = "",
    request_id: str | None = None,
    channel: str = "api",
) -> int:
    """Mail a password-reset link to the accounts of an address (how many were sent)."""
    client = Client(ip=ip, user_agent=user_agent, request_id=request_id, channel=channel)
    return password_reset_send(email=email, language=language, client=client)


def password_reset_send(*, email: str, language: str | None, client: Client) -> int:
    """Mail a reset link to every active account with this address; how many were sent.

    Synchronous: the worker runs it, and so does the request itself when tasks run inline (no broker), where an
    async task's ORM calls would wait for the thread that waits for them.
    """
    users = list(User.objects.filter(email__iexact=email.strip(), is_active=True).order_by("pk"))
    if not users:
        record_event_sync(
            event=events.PASSWORD_RESET_REQUESTED,
            username=email[:150],
            user_id=None,
            success=False,
            reason="unknown_email",
            client=client,
        )
        return 0
    ttl = settings.PASSWORD_RESET_TTL
    for user in users:
        token, hashed = new_token()
        OneTimeToken.objects.create(
            purpose=OneTimeToken.Purpose.PASSWORD_RESET,
            token_hash=hashed,
            user=user,
            expires_at=timezone.now() + timedelta(seconds=ttl),
        )
        mail_queue_sync(
            to=[user.email],
            template="password_reset",
            context={
                "name": user.get_full_name(),
                "username": user.username,
                "link": link_for(settings.PASSWORD_RESET_LINK, token),
                "ttl_minutes": max(1, ttl // 60),
            },
            language=language,
        )
        record_event_sync(
            event=events.PASSWORD_RESET_REQUESTED,
            username=user.username,
            user_id=str(user.pk),
            success=True,
            reason="ok",
            client=client,
        )
    return len(users)
