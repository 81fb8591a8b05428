"""Admin anchor for the online-users page: a tableless model that gives the admin an entry and permissions.

Who is online lives in Redis (live sessions and open websockets); this unmanaged model has no table. It exists
so the admin index and sidebar list "Online users", and so roles can be granted `console.view_onlineuser`
(see who is online) and `console.kick_onlineuser` (end their sessions).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OnlineUser(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        permissions = (("kick_onlineuser", _("Can end the sessions of online users")),)
        verbose_name = _("online user")
        verbose_name_plural = _("online users")

    def __str__(self) -> str:
        return "online user"
