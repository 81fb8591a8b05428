from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RealtimeConfig(AppConfig):
    name = "apps.realtime"
    label = "realtime"
    verbose_name = _("Realtime")

    def ready(self) -> None:
        from apps.accounts.signals import session_ended
        from apps.realtime import handlers  # noqa: F401  (registers the built-in events)
        from apps.realtime.receivers import close_sockets_of_ended_sessions

        session_ended.connect(close_sockets_of_ended_sessions, dispatch_uid="realtime.close_sockets_of_ended_sessions")
