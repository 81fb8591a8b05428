"""The worker's half of a password-reset request: find the accounts, mail each a link, log the request."""

from apps.onboarding.events import Client
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
    from apps.onboarding.services import password_reset_send

    client = Client(ip=ip, user_agent=user_agent, request_id=request_id, channel=channel)
    return password_reset_send(email=email, language=language, client=client)
