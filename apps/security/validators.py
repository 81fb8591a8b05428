"""Password validators of the policy (AUTH_PASSWORD_VALIDATORS); limits come from config/settings/security.py.

Django calls every validator's password_changed() when a user saved with a new password (AbstractBaseUser.save
after set_password), so the history records every path that sets one: API, admin forms, commands, reset links.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = (str.islower, str.isupper, str.isdigit)


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters the password mixes."""
    found = {index for char in password for index, test in enumerate(CLASSES) if test(char)}
    if any(not char.isalnum() for char in password):
        found.add(len(CLASSES))
    return len(found)


class MinimumLengthValidator:
    def __init__(self, min_length: int | None = None) -> None:
        self._min_length = min_length

    @property
    def min_length(self) -> int:
        return self._min_length if self._min_length is not None else settings.PASSWORD_MIN_LENGTH

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) < self.min_length:
            raise ValidationError(
                ngettext(
                    "This password is too short. It must contain at least %(min_length)d character.",
                    "This password is too short. It must contain at least %(min_length)d characters.",
                    self.min_length,
                ),
                code="password_too_short",
                params={"min_length": self.min_length},
            )

    def get_help_text(self) -> str:
        return ngettext(
            "Your password must contain at least %(min_length)d character.",
            "Your password must contain at least %(min_length)d characters.",
            self.min_length,
        ) % {"min_length": self.min_length}


class CharacterClassesValidator:
    def __init__(self, min_classes: int | None = None) -> None:
        self._min_classes = min_classes

    @property
    def min_classes(self) -> int:
        return self._min_classes if self._min_classes is not None else settings.PASSWORD_MIN_CLASSES

    def validate(self, password: str, user: Any = None) -> None:
        if character_classes(password) < self.min_classes:
            raise ValidationError(
                _(
                    "This password must mix at least %(min_classes)d of: lower case, upper case, digits, "
                    "other characters."
                ),
                code="password_too_simple",
                params={"min_classes": self.min_classes},
            )

    def get_help_text(self) -> str:
        return _(
            "Your password must mix at least %(min_classes)d of: lower case, upper case, digits, other characters."
        ) % {"min_classes": self.min_classes}


class PasswordHistoryValidator:
    """Not one of the last N passwords; records each new one as it is saved."""

    @property
    def count(self) -> int:
        return max(0, settings.PASSWORD_HISTORY_COUNT)

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None or self.count == 0:
            return
        from apps.security.models import PasswordHistory

        hashes = [
            *PasswordHistory.objects.filter(user_id=user.pk).values_list("password", flat=True)[: self.count],
        ]
        # The current password counts even when it predates the history (accounts made before the policy).
        current = type(user).objects.filter(pk=user.pk).values_list("password", flat=True).first()
        if current and current not in hashes:
            hashes.append(current)
        if any(check_password(password, encoded) for encoded in hashes if encoded):
            raise ValidationError(
                ngettext(
                    "This password was used recently. Choose one that is not your last %(count)d password.",
                    "This password was used recently. Choose one that is not among your last %(count)d passwords.",
                    self.count,
                ),
                code="password_reused",
                params={"count": self.count},
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None or not user.password:
            return
        from apps.security.models import PasswordHistory

        PasswordHistory.objects.create(user_id=user.pk, password=user.password)
        keep = max(self.count, 1)
        stale = PasswordHistory.objects.filter(user_id=user.pk).values_list("pk", flat=True)[keep:]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        if self.count == 0:
            return ""
        return ngettext(
            "Your password cannot be your last %(count)d password.",
            "Your password cannot be one of your last %(count)d passwords.",
            self.count,
        ) % {"count": self.count}


def password_expired(user: Any) -> bool:
    """Whether the password is older than PASSWORD_MAX_AGE_DAYS (0: passwords never expire).

    Its age is that of its history entry; an account whose password predates the history counts from when it
    joined.
    """
    if settings.PASSWORD_MAX_AGE_DAYS <= 0:
        return False
    from django.utils import timezone

    from apps.security.models import PasswordHistory

    latest = PasswordHistory.objects.filter(user_id=user.pk).values_list("created_at", flat=True).first()
    since = latest or user.date_joined
    return bool(since and timezone.now() - since > timedelta(days=settings.PASSWORD_MAX_AGE_DAYS))
