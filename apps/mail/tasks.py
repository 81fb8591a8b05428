"""The send task: one attempt per run, retried with back-off while the server is unreachable or answers 4xx."""

import logging
import smtplib
from typing import Any

from celery import Task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from apps.mail import records
from apps.mail.documents import SendStatus
from apps.mail.models import OutboxMail
from apps.scheduler.base import bound_task
from apps.scheduler.records import describe_error

logger = logging.getLogger("apps.mail")


def retry_delay(attempt: int) -> int:
    """Seconds before the attempt after attempt number `attempt` (1-based): exponential, capped."""
    return int(min(settings.MAIL_RETRY_MAX_DELAY, settings.MAIL_RETRY_DELAY * 2 ** (attempt - 1)))


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer will not change on retry (bad recipient, refused sender, message rejected)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _deliver(mail: OutboxMail) -> None:
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    message = EmailMultiAlternatives(
        subject=mail.subject, body=mail.text, from_email=settings.DEFAULT_FROM_EMAIL, to=mail.to, connection=connection
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    message.send()


@bound_task(name="mail.send", max_retries=None, acks_late=True, schedulable=False)
def send_mail(self: Task[Any, Any], mail_id: str) -> str:
    """Send one queued mail (by outbox id)."""
    mail = OutboxMail.objects.filter(pk=mail_id).first()
    if mail is None:
        return "gone"  # sent already: a redelivered message
    fields = records.identity(
        mail_id=mail_id, to=list(mail.to), template=mail.template, language=mail.language, subject=mail.subject
    )
    attempt = self.request.retries + 1
    task_id = self.request.id
    try:
        _deliver(mail)
    except OSError as exc:  # smtplib's errors are OSErrors, like refused connections and timeouts
        error = describe_error(exc)
        if is_permanent(exc) or attempt > settings.MAIL_MAX_RETRIES:
            records.write_attempt(fields, attempt=attempt, status=SendStatus.FAILED, error=error, task_id=task_id)
            logger.error("mail not sent", extra={"mail_id": mail_id, "attempts": attempt, "error": error})
            raise
        records.write_attempt(fields, attempt=attempt, status=SendStatus.RETRYING, error=error, task_id=task_id)
        logger.warning("mail attempt failed; retrying", extra={"mail_id": mail_id, "attempts": attempt})
        raise self.retry(exc=exc, countdown=retry_delay(attempt)) from exc
    records.write_attempt(fields, attempt=attempt, status=SendStatus.SENT, error=None, task_id=task_id)
    mail.delete()
    return "sent"
