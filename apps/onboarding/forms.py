"""Forms of the sign-in pages' account links (styled like the admin's sign-in form)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import BASE_INPUT_CLASSES, UnfoldAdminPasswordWidget

from apps.onboarding.schemas import USERNAME_PATTERN

_INPUT = {"class": " ".join(BASE_INPUT_CLASSES)}


class ResetRequestForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs=_INPUT))


class _TwoPasswords(forms.Form):
    password1 = forms.CharField(
        label=_("New password"), max_length=4096, strip=False, widget=UnfoldAdminPasswordWidget()
    )
    password2 = forms.CharField(
        label=_("New password again"), max_length=4096, strip=False, widget=UnfoldAdminPasswordWidget()
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class SetPasswordForm(_TwoPasswords):
    pass


class InvitationAcceptForm(_TwoPasswords):
    username = forms.RegexField(
        label=_("Username"), regex=USERNAME_PATTERN, max_length=150, widget=forms.TextInput(attrs=_INPUT)
    )
    full_name = forms.CharField(
        label=_("Full name"), max_length=150, required=False, widget=forms.TextInput(attrs=_INPUT)
    )
    field_order = ("username", "full_name", "password1", "password2")


class VerifyForm(forms.Form):
    pass
