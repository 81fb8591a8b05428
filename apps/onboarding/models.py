"""One-time links: password resets and e-mail verifications (OneTimeToken) and invitations.

Only the SHA-256 of a link's token is stored; a link is used up by one conditional UPDATE, so two concurrent
uses cannot both succeed.
"""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from apps.core.ids import new_uuid7


def new_token() -> tuple[str, str]:
    """(token for the link, hash to store)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def link_for(template: str, token: str) -> str:
    """A mailed link: the setting's URL template with the token in place of "{token}"."""
    return template.replace("{token}", token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class OneTimeToken(models.Model):
    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
        EMAIL_VERIFY = "email_verify"

    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose} of {self.user_id}"


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"  # never stored: a pending invitation past expires_at reads as expired

    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    email = models.EmailField()
    full_name = models.CharField(max_length=150, blank=True)
    roles = models.ManyToManyField(Group, blank=True, related_name="+")
    # The department the account lands in (apps/org); PROTECT like users': the department stays while invited.
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"invitation of {self.email}"
