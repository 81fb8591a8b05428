from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models

from apps.core.ids import new_uuid7


class User(AbstractUser):
    """The platform user: UUIDv7 id, unique email optional, one full name instead of first/last."""

    id = models.UUIDField(primary_key=True, default=new_uuid7, editable=False)
    email = models.EmailField("email address", blank=True)
    full_name = models.CharField(max_length=150, blank=True)
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    REQUIRED_FIELDS: ClassVar[list[str]] = ["email"]

    class Meta:
        ordering = ("username",)

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name or self.username
