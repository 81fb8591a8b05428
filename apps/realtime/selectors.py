"""Reads: who is online."""

from typing import Any

from apps.accounts.models import User
from apps.core.pagination import PageIn, page_of
from apps.org.selectors import scope_of, scoped_users
from apps.realtime.presence import online_counts


async def online_user_list(*, actor: User, page: PageIn) -> dict[str, Any]:
    """Users with open sockets in the actor's data scope, by username: {user_id, username, connections}, one page."""
    counts = await online_counts()
    users = scoped_users(User.objects.filter(pk__in=list(counts)), await scope_of(actor)).order_by("username", "id")
    total = await users.acount()
    items = [
        {"user_id": user.pk, "username": user.username, "connections": counts[str(user.pk)]}
        async for user in users[page.offset : page.offset + page.size].only("id", "username")
    ]
    return page_of(items, total=total, page=page)
