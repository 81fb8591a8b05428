"""Password history and second factors, kept beside the user (apps/accounts owns the User model)."""

from django.conf import settings
from django.db import models


class PasswordHistory(models.Model):
    """The hash of a password a user had; the history validator refuses the last PASSWORD_HISTORY_COUNT again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "password history"

    def __str__(self) -> str:
        return f"password of {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class TOTPDevice(models.Model):
    """One authenticator app per user; sign-in asks for its codes once it is confirmed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    confirmed = models.BooleanField(default=False)
    # The last RFC 6238 time step whose code was accepted: a code of that step or an earlier one is a replay.
    last_used_step = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"TOTP device of {self.user_id}"


class BackupCode(models.Model):
    """A single-use recovery code, stored hashed like a password."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=128)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"backup code {self.pk} of {self.user_id}"
