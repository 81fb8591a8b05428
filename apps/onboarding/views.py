"""The sign-in page's account links as Django pages: forgotten password (linked from the admin's sign-in page),
the mailed links' pages (new password, invitation, address verification). They call the same services as the
API, with plaintext passwords over the page's own form (HTTPS in production) instead of sealed ones."""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from apps.accounts.signals import CHANNEL_ADMIN
from apps.core.client_ip import client_ip
from apps.core.exceptions import Conflict, LinkInvalid, RateLimited, ValidationFailed
from apps.onboarding import services
from apps.onboarding.events import Client
from apps.onboarding.forms import InvitationAcceptForm, ResetRequestForm, SetPasswordForm, VerifyForm

TEMPLATE = "onboarding/form.html"


def _client(request: HttpRequest) -> Client:
    return Client(
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        request_id=getattr(request, "request_id", None),
        channel=CHANNEL_ADMIN,
    )


def _page(
    request: HttpRequest,
    *,
    title: Any,
    intro: Any = "",
    form: forms.Form | None = None,
    submit: Any = "",
    done: Any = "",
    token: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": title,
        "intro": intro,
        "form": form,
        "submit": submit,
        "done": done,
        "token": token,
        "login_url": reverse("admin:login"),
    }
    response = render(request, TEMPLATE, context, status=status)
    # The page's URL holds a one-time token: never hand it on to another site.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _apply(form: forms.Form, call: Callable[[], Awaitable[Any]], password_field: str | None = None) -> bool:
    """Run a service; its refusals become form errors. True when it succeeded."""
    try:
        async_to_sync(call)()
    except ValidationFailed as exc:
        for item in exc.data or []:
            form.add_error(password_field, str(item.get("msg", exc.message)))
        if not exc.data:
            form.add_error(None, exc.message)
    except (RateLimited, Conflict) as exc:
        form.add_error(None, exc.message)
    else:
        return True
    return False


def _invalid_link(request: HttpRequest, title: Any) -> HttpResponse:
    return _page(request, title=title, done=LinkInvalid().message, status=400)


@never_cache
@csrf_protect
def password_reset(request: HttpRequest) -> HttpResponse:
    title = _("Forgotten password")
    intro = _("Enter the e-mail address of your account; we will mail you a link to choose a new password.")
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        call = partial(services.password_reset_request, email=email, language=get_language(), client=_client(request))
        if _apply(form, call):
            done = _("If an account uses that address, a mail with a link is on its way. The link works once.")
            return _page(request, title=title, done=done)
    return _page(request, title=title, intro=intro, form=form, submit=_("Mail me a link"))


@never_cache
@csrf_protect
@sensitive_post_parameters("password1", "password2")
def password_reset_confirm(request: HttpRequest) -> HttpResponse:
    title = _("Choose a new password")
    token = request.POST.get("token") or request.GET.get("token") or ""
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password1"]
        call = partial(services.password_reset_confirm, token=token, password=password, client=_client(request))
        try:
            if _apply(form, call, "password1"):
                done = _("Your password was changed and every session of your account ended. Sign in again.")
                return _page(request, title=title, done=done)
        except LinkInvalid:
            return _invalid_link(request, title)
    return _page(request, title=title, form=form, submit=_("Set the password"), token=token)


@never_cache
@csrf_protect
@sensitive_post_parameters("password1", "password2")
def invitation_accept(request: HttpRequest) -> HttpResponse:
    title = _("Create your account")
    token = request.POST.get("token") or request.GET.get("token") or ""
    try:
        invitation = async_to_sync(services.invitation_check)(token=token)
    except LinkInvalid:
        return _invalid_link(request, title)
    intro = _("You were invited as %(email)s.") % {"email": invitation["email"]}
    form = InvitationAcceptForm(request.POST or None, initial={"full_name": invitation["full_name"]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        call = partial(
            services.invitation_accept,
            token=token,
            username=data["username"],
            password=data["password1"],
            full_name=data["full_name"],
            client=_client(request),
        )
        try:
            if _apply(form, call, "password1"):
                return _page(request, title=title, done=_("Your account was created. Sign in with it now."))
        except LinkInvalid:
            return _invalid_link(request, title)
    return _page(request, title=title, intro=intro, form=form, submit=_("Create the account"), token=token)


@never_cache
@csrf_protect
def signup_verify(request: HttpRequest) -> HttpResponse:
    # A button, not the GET itself: mail scanners that open links must not use them up.
    title = _("Confirm your e-mail address")
    token = request.POST.get("token") or request.GET.get("token") or ""
    form = VerifyForm(request.POST or None)
    if request.method == "POST":
        try:
            async_to_sync(services.signup_verify)(token=token, client=_client(request))
        except LinkInvalid:
            return _invalid_link(request, title)
        return _page(request, title=title, done=_("Your address is confirmed and your account active. Sign in now."))
    return _page(request, title=title, form=form, submit=_("Confirm my address"), token=token)
