"""Two-factor sign-in: TOTP devices (RFC 6238), single-use backup codes and the short-lived sign-in ticket."""

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ChallengeInvalid, Conflict, NotFound
from apps.core.redis import async_redis, key
from apps.security.models import BackupCode, TOTPDevice

BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str  # data URI
    qr_png: str  # data URI


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _accepted_step(device: TOTPDevice, code: str, now: float) -> int | None:
    """The time step a code belongs to within the window, or None; never a step at or before the last used."""
    totp = _totp(device.secret)
    current = totp.timecode(now)
    window = max(0, settings.TOTP_VALID_WINDOW)
    for step in range(current - window, current + window + 1):
        if step > device.last_used_step and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def has_two_factor_sync(user_id: Any) -> bool:
    return TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()


async def has_two_factor(*, user_id: Any) -> bool:
    return await TOTPDevice.objects.filter(user_id=user_id, confirmed=True).aexists()


async def enrolment_started(*, user_id: Any) -> bool:
    """A secret was handed out and no code confirmed it yet."""
    return await TOTPDevice.objects.filter(user_id=user_id, confirmed=False).aexists()


def _enrol(user: Any) -> Enrolment:
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user_id=user.pk).first()
        if device is not None and device.confirmed:
            raise Conflict(_("Two-factor sign-in is already on; turn it off first"))
        secret = pyotp.random_base32()
        TOTPDevice.objects.update_or_create(
            user_id=user.pk, defaults={"secret": secret, "confirmed": False, "last_used_step": -1}
        )
    uri = _totp(secret).provisioning_uri(name=user.username, issuer_name=settings.TOTP_ISSUER)
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=qr.svg_data_uri(scale=4), qr_png=qr.png_data_uri(scale=4))


def _new_backup_codes(user_id: Any) -> list[str]:
    codes = ["".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10)) for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.filter(user_id=user_id).delete()
    BackupCode.objects.bulk_create([BackupCode(user_id=user_id, code_hash=make_password(code)) for code in codes])
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _confirm(user: Any, code: str, now: float) -> list[str] | None:
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user_id=user.pk).first()
        if device is None:
            raise NotFound(_("Start the enrolment first"))
        if device.confirmed:
            raise Conflict(_("Two-factor sign-in is already on"))
        step = _accepted_step(device, _normalise(code), now)
        if step is None:
            return None
        device.confirmed, device.confirmed_at, device.last_used_step = True, timezone.now(), step
        device.save(update_fields=["confirmed", "confirmed_at", "last_used_step"])
        return _new_backup_codes(user.pk)


def verify_sync(user_id: Any, code: str, now: float | None = None) -> str | None:
    """Check a TOTP or backup code of a confirmed device; "totp" or "backup_code" when it was accepted.

    A TOTP code is accepted once (its step is remembered), a backup code once (it is marked used), both
    under a row lock, so two requests racing with the same code cannot both pass.
    """
    code = _normalise(code)
    if not code or len(code) > 32:
        return None
    moment = time.time() if now is None else now
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user_id=user_id, confirmed=True).first()
        if device is None:
            return None
        if code.isdigit() and len(code) == 6:
            step = _accepted_step(device, code, moment)
            if step is None:
                return None
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return "totp"
        for backup in BackupCode.objects.select_for_update().filter(user_id=user_id, used_at__isnull=True):
            if check_password(code, backup.code_hash):
                backup.used_at = timezone.now()
                backup.save(update_fields=["used_at"])
                return "backup_code"
    return None


def _disable(user: Any, code: str, now: float | None) -> bool:
    with transaction.atomic():
        if verify_sync(user.pk, code, now) is None:
            return False
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        BackupCode.objects.filter(user_id=user.pk).delete()
    return True


def _regenerate(user: Any, code: str, now: float | None) -> list[str] | None:
    with transaction.atomic():
        if verify_sync(user.pk, code, now) is None:
            return None
        return _new_backup_codes(user.pk)


enrol = sync_to_async(_enrol)
confirm = sync_to_async(_confirm)
verify = sync_to_async(verify_sync)
disable = sync_to_async(_disable)
regenerate_backup_codes = sync_to_async(_regenerate)


def backup_codes_left_sync(user_id: Any) -> int:
    return BackupCode.objects.filter(user_id=user_id, used_at__isnull=True).count()


# ---- the sign-in ticket: what login answers instead of tokens while the second factor is outstanding ----


def _ticket_key(ticket: str) -> str:
    return key("2fa", "ticket", ticket)


async def ticket_issue(*, user_id: str, username: str, channel: str, purpose: str = "2fa") -> str:
    """purpose: "2fa" (POST /auth/login/2fa completes it), "2fa_enrol" (POST /auth/login/2fa/enrol/confirm does)
    or "password_change" (POST /auth/password/expired)."""
    ticket = secrets.token_urlsafe(32)
    document = json.dumps({"uid": user_id, "username": username, "channel": channel, "purpose": purpose})
    await async_redis().set(_ticket_key(ticket), document, ex=settings.TWO_FACTOR_TICKET_TTL)
    return ticket


async def ticket_read(ticket: str, *, purpose: str = "2fa") -> dict[str, str]:
    """The ticket's user; unknown, expired, used or other-purpose tickets fail with 40105 like a login challenge."""
    raw = await async_redis().get(_ticket_key(ticket)) if ticket and len(ticket) <= 128 else None
    document: dict[str, str] = json.loads(raw) if raw is not None else {}
    if document.get("purpose") != purpose:
        raise ChallengeInvalid(_("Sign-in ticket invalid, expired or already used"))
    return document


async def ticket_consume(ticket: str) -> None:
    if not await async_redis().delete(_ticket_key(ticket)):
        raise ChallengeInvalid(_("Sign-in ticket invalid, expired or already used"))
