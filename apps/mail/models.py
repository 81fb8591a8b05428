"""The outbox: each queued mail, rendered, until it has been sent.

The Celery message carries only the id, so links and tokens in a mail never reach the broker, task-run records
or the send records; a mail whose SMTP server is down waits here across retries and worker restarts.
"""

from django.db import models

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
