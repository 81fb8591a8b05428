"""Image captchas after repeated failed sign-ins, drawn locally (the `captcha` package); answers live in Redis.

Failed sign-ins are counted per username and per client IP in a fixed window. Once either count reaches its
threshold, a sign-in must carry a solved captcha. A success clears the username's count; the IP's count only
runs out with its window (one account of the attacker's own must not reset it for every other name tried).
"""

import base64
import io
import secrets

from asgiref.sync import sync_to_async
from captcha.image import ImageCaptcha
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError, ErrorCode
from apps.core.redis import async_redis, key

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alikes (0/O, 1/I)


class CaptchaRequired(DomainError):
    code = ErrorCode.CAPTCHA_REQUIRED


class CaptchaInvalid(DomainError):
    code = ErrorCode.CAPTCHA_INVALID


def _draw(text: str) -> str:
    image = ImageCaptcha(width=200, height=70).generate_image(text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def captcha_issue() -> dict[str, object]:
    """A new captcha: {captcha_id, image (PNG data URI), expires_in}; its answer is single-use."""
    text = "".join(secrets.choice(_ALPHABET) for _ in range(settings.CAPTCHA_LENGTH))
    captcha_id = secrets.token_urlsafe(24)
    await async_redis().set(key("cap", captcha_id), text, ex=settings.CAPTCHA_TTL)
    return {"captcha_id": captcha_id, "image": await sync_to_async(_draw)(text), "expires_in": settings.CAPTCHA_TTL}


async def captcha_solved(captcha_id: str | None, answer: str | None) -> bool:
    """Burn the captcha and tell whether the answer matched (case and surrounding spaces do not matter)."""
    if not captcha_id or not answer or len(captcha_id) > 64:
        return False
    expected = await async_redis().getdel(key("cap", captcha_id))
    if expected is None:
        return False
    text = expected.decode() if isinstance(expected, bytes) else str(expected)
    return secrets.compare_digest(text.upper(), answer.strip().upper()[:32])


def _counters(username: str, ip: str | None) -> list[tuple[str, int]]:
    counters = [(key("capf", "user", username.lower()[:150]), settings.CAPTCHA_AFTER_USER_FAILURES)]
    if ip:
        counters.append((key("capf", "ip", ip), settings.CAPTCHA_AFTER_IP_FAILURES))
    return [(name, limit) for name, limit in counters if limit > 0]


async def captcha_needed(*, username: str, ip: str | None) -> bool:
    counters = _counters(username, ip)
    if not counters:
        return False
    values = await async_redis().mget([name for name, _limit in counters])
    return any(
        value is not None and int(value) >= limit for value, (_name, limit) in zip(values, counters, strict=True)
    )


async def failure_counted(*, username: str, ip: str | None) -> None:
    counters = _counters(username, ip)
    if not counters:
        return
    async with async_redis().pipeline(transaction=True) as pipe:
        for name, _limit in counters:
            pipe.incr(name)
            pipe.expire(name, settings.CAPTCHA_FAILURE_WINDOW, nx=True)
        await pipe.execute()


async def success_counted(*, username: str) -> None:
    await async_redis().delete(key("capf", "user", username.lower()[:150]))


MESSAGES = {
    "required": _("Too many failed sign-ins: solve the captcha (GET /auth/captcha) and send it with the sign-in"),
    "invalid": _("The captcha answer is wrong or the captcha expired; fetch a new one"),
}
