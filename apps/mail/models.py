"""The outbox: each queued mail, rendered, until it has been sent.

The Celery message carries only the id, so links and tokens in a mail never reach the broker, task-run records
or the send records; a mail whose SMTP server is down waits here across retries and worker restarts.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.ids import new_uuid7


class OutboxMail(models.Model):
    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    to = models.JSONField()  # list of addresses
    template = models.CharField(max_length=100)
    language = models.CharField(max_length=16)
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)
        verbose_name = "outgoing mail"

    def __str__(self) -> str:
        return f"{self.template} to {', '.join(self.to)}"


class MailSendEntry(models.Model):
    """Admin anchor for the send records (MongoDB `mail_sends`): no table, only the admin entry and permissions.

    Roles get `mail.view_mailsendentry` (the list, like GET /mail/sends) and `mail.resend_mailsendentry` (the
    "Resend" button, like POST /mail/sends/{mail_id}/resend) from their API codes (apps/accounts/admin_access.py).
    """

    class Meta:
        managed = False
        default_permissions = ("view",)
        permissions = (("resend_mailsendentry", _("Can resend failed mails")),)
        verbose_name = _("mail send")
        verbose_name_plural = _("mail sends")

    def __str__(self) -> str:
        return "mail send"
