"""Admin pages of the console: online users (live sessions and websockets) with kick per session and per user.

The tableless anchor (apps.console.models.OnlineUser) gives the page its admin entry and two permissions:
`console.view_onlineuser` to see who is online and `console.kick_onlineuser` to end their sessions.
"""

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe
from unfold.admin import ModelAdmin

from apps.accounts.models import User
from apps.console import online
from apps.console.models import OnlineUser
from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError

PAGE_SIZE = 50
MAX_PAGE = 100_000  # a page number past this is refused politely (never an overflow)
KICK_PERMISSION = "console.kick_onlineuser"


def _page_number(raw: str) -> int | None:
    """The 1-based page asked for, or None when it is not a sensible number."""
    if not raw:
        return 1
    if not raw.isdigit() or len(raw) > 6:
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_PAGE else None


@admin.register(OnlineUser)
class OnlineUserAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_template_name = "admin/console/online_list.html"
    confirm_template_name = "admin/console/online_kick.html"

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap: Callable[..., Any] = self.admin_site.admin_view
        return [
            path("", wrap(require_safe(self.list_view)), name="{}_{}_changelist".format(*info)),
            path("kick/", wrap(require_http_methods(["GET", "POST"])(self.kick_view)), name="{}_{}_kick".format(*info)),
        ]

    def has_kick_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(KICK_PERMISSION))

    def _list_url(self) -> str:
        return reverse(f"{self.admin_site.name}:console_onlineuser_changelist")

    def _kick_url(self, **params: str) -> str:
        return f"{reverse(f'{self.admin_site.name}:console_onlineuser_kick')}?{urlencode(params)}"

    def list_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        search = request.GET.get("q", "").strip()[: online.SEARCH_MAX_LENGTH]
        page = _page_number(request.GET.get("p", "").strip())
        errors = []
        if page is None:
            errors.append(gettext("The page must be a whole number from 1 to %(max)s.") % {"max": MAX_PAGE})
            page = 1
        data = async_to_sync(online.online_page)(
            actor=cast(User, request.user), search=search, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        pages = max(1, -(-data.total // PAGE_SIZE))
        if page > pages and data.total:
            errors.append(gettext("There are only %(pages)s page(s).") % {"pages": pages})
        can_kick = self.has_kick_permission(request)
        actor_is_superuser = request.user.is_superuser
        rows = [
            {
                "user": row,
                "change_url": reverse(f"{self.admin_site.name}:accounts_user_change", args=[row.user_id]),
                "may_kick": can_kick and (actor_is_superuser or not row.is_superuser),
                "kick_user_url": self._kick_url(user=row.user_id),
                "sessions": [
                    {"session": s, "kick_url": self._kick_url(user=row.user_id, session=s.handle)} for s in row.sessions
                ],
            }
            for row in data.rows
        ]

        def page_url(number: int) -> str:
            return "?" + urlencode({k: v for k, v in (("q", search), ("p", str(number))) if v})

        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Online users"),
            "rows": rows,
            "total": data.total,
            "session_count": data.sessions,
            "connection_count": data.connections,
            "search": search,
            "page": page,
            "pages": pages,
            "errors": errors,
            "can_kick": can_kick,
            "previous_url": page_url(page - 1) if page > 1 else None,
            "next_url": page_url(page + 1) if page < pages else None,
        }
        return TemplateResponse(request, self.list_template_name, context)

    def kick_view(self, request: HttpRequest) -> HttpResponse:
        """GET: what would end, and a confirm button; POST (CSRF-checked): end it, say so, back to the list."""
        if not self.has_kick_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        user_id = source.get("user", "").strip()[:64]
        handle = source.get("session", "").strip()[:64]
        actor = cast(User, request.user)  # admin_view let only signed-in staff through
        try:
            target = async_to_sync(online.online_user)(actor=actor, user_id=user_id)
            online.ensure_can_kick(actor, target_is_superuser=target.is_superuser)
            if request.method == "POST":
                return self._kick(request, target=target, handle=handle)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._list_url())
        sessions = [s for s in target.sessions if not handle or s.handle == handle]
        if handle and not sessions:
            self.message_user(request, gettext("That session has already ended"), messages.WARNING)
            return HttpResponseRedirect(self._list_url())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("End sessions?"),
            "target": target,
            "handle": handle,
            "sessions": sessions,
            "list_url": self._list_url(),
        }
        return TemplateResponse(request, self.confirm_template_name, context)

    def _kick(self, request: HttpRequest, *, target: online.OnlineUserRow, handle: str) -> HttpResponse:
        actor = cast(User, request.user)
        if handle:
            user = async_to_sync(online.session_kick)(actor=actor, user_id=target.user_id, handle=handle)
            message = gettext("Ended one session of %(user)s.") % {"user": target.username}
            log = f"Ended session {handle} (force logout from the online users page)"
        else:
            user, ended = async_to_sync(online.user_kick)(actor=actor, user_id=target.user_id)
            message = gettext("Ended %(count)s session(s) of %(user)s.") % {"count": ended, "user": target.username}
            log = f"Ended all {ended} session(s) (force logout from the online users page)"
        self.log_change(request, user, log)  # the user's admin history shows who ended what
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._list_url())
