"""The admin site's sign-in form: the API login's throttle and login logs (channel "admin") for the admin too."""

import logging
from typing import Any, cast

from asgiref.sync import async_to_sync
from django import db, forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from redis import exceptions as redis_errors
from unfold.forms import AuthenticationForm

from apps.accounts.services.auth import ClientInfo, admin_sign_in
from apps.core.client_ip import client_ip
from apps.core.exceptions import (
    BadCredentials,
    PasswordChangeRequired,
    RateLimited,
    TwoFactorEnrolmentRequired,
    TwoFactorInvalid,
    TwoFactorRequired,
)
from apps.security.captcha import CaptchaInvalid, CaptchaRequired, captcha_issue, captcha_needed

logger = logging.getLogger("apps.accounts.admin_login")

# What an outage of the throttle's Redis or of the database raises: a form error, never a 500 page.
_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, db.OperationalError, db.InterfaceError)


class AdminLoginForm(AuthenticationForm):
    """Checks the password through apps.accounts.services.auth.admin_sign_in instead of calling authenticate().

    Django's own form would verify any number of passwords, leave no login log and tell a staff account apart
    from an inactive or non-staff one only by its message; this one refuses like the API does (one message).
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _("Too many failed sign-ins. Try again in %(seconds)s seconds."),
        "unavailable": _("Signing in is unavailable right now. Try again in a moment."),
        "otp_required": _("This account has two-factor sign-in on: enter a code from your authenticator app."),
        "otp_invalid": _("The two-factor code is wrong or was already used."),
        "password_expired": _('Your password expired. Choose a new one with "Forgotten your password?".'),
        "captcha_required": _("Too many failed sign-ins: type the characters in the image."),
        "captcha_invalid": _("The characters did not match the image. Try this one."),
        "otp_enrol": _(
            "Your role requires two-factor sign-in. Scan the QR code with an authenticator app, then sign in "
            "again with your password and a code from the app."
        ),
    }
    captcha_image = ""  # a PNG data URI once the sign-in needs a captcha (templates/admin/login.html shows it)
    enrolment_qr = ""  # an SVG data URI of a new secret when a role requires two-factor sign-in and none is set up
    enrolment_secret = ""

    captcha_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    captcha_answer = forms.CharField(
        label=_("Characters in the image"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    otp_code = forms.CharField(
        label=_("Two-factor code"),
        required=False,
        max_length=32,
        strip=True,
        help_text=_("Only for accounts with two-factor sign-in: a code from the app, or a backup code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        request = self.request
        client = ClientInfo(
            ip=client_ip(request) if request is not None else None,
            user_agent=request.headers.get("User-Agent", "") if request is not None else "",
            request_id=getattr(request, "request_id", None),
        )
        try:
            # The admin's login view is synchronous (it runs on a worker thread under ASGI); the shared
            # sign-in is async and talks to Redis on the server's event loop.
            self.user_cache, backup_codes = async_to_sync(admin_sign_in)(
                username=username,
                password=password,
                client=client,
                otp_code=self.cleaned_data.get("otp_code") or "",
                captcha_id=self.cleaned_data.get("captcha_id") or None,
                captcha_answer=self.cleaned_data.get("captcha_answer") or None,
            )
        except (CaptchaRequired, CaptchaInvalid) as exc:
            self._offer_captcha()
            reason = "captcha_required" if isinstance(exc, CaptchaRequired) else "captcha_invalid"
            raise ValidationError(self.error_messages[reason], code=reason) from None
        except RateLimited as exc:
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"seconds": exc.retry_after}
            ) from None
        except BadCredentials:
            self._offer_captcha_if_needed(username, client)
            raise self.get_invalid_login_error() from None
        except PasswordChangeRequired:
            raise ValidationError(self.error_messages["password_expired"], code="password_expired") from None
        except TwoFactorRequired:
            raise ValidationError(self.error_messages["otp_required"], code="otp_required") from None
        except TwoFactorEnrolmentRequired as exc:
            enrolment = cast(dict[str, str], exc.data)
            self.enrolment_qr, self.enrolment_secret = enrolment["qr_svg"], enrolment["secret"]
            raise ValidationError(self.error_messages["otp_enrol"], code="otp_enrol") from None
        except TwoFactorInvalid:
            raise ValidationError(self.error_messages["otp_invalid"], code="otp_invalid") from None
        except _UNAVAILABLE as exc:
            logger.warning("admin sign-in unavailable", extra={"error_type": type(exc).__name__})
            raise ValidationError(self.error_messages["unavailable"], code="unavailable") from None
        if backup_codes and request is not None:
            # Shown once, on the page the sign-in lands on (the message survives the session's new key).
            messages.warning(
                request,
                _("Two-factor sign-in is on. Keep these backup codes somewhere safe, each works once: %(codes)s")
                % {"codes": "  ".join(backup_codes)},
            )
        return self.cleaned_data

    def _offer_captcha(self) -> None:
        """A fresh captcha in the re-rendered form (each one is single-use)."""
        issued = async_to_sync(captcha_issue)()
        self.captcha_image = str(issued["image"])
        form = cast(Any, self)  # django-stubs cannot type Form.data from here
        data = form.data.copy()  # a bound form's QueryDict is immutable: the copy is not
        data["captcha_id"], data["captcha_answer"] = str(issued["captcha_id"]), ""
        form.data = data

    def _offer_captcha_if_needed(self, username: str, client: ClientInfo) -> None:
        # The failure that reaches the threshold shows the captcha at once, not only after the next try.
        if async_to_sync(captcha_needed)(username=username, ip=client.ip):
            self._offer_captcha()
