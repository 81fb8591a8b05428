"""Access markers that live next to each route: public, signed-in only, or (default) permission-checked."""

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ACCESS_ATTR = "_access_level"


class Access(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    PERMISSION = "permission"


def public(func: F) -> F:
    """Anyone may call it, without a token. Put it under the router decorator."""
    setattr(func, ACCESS_ATTR, Access.PUBLIC)
    return func


def signed_in(func: F) -> F:
    """Every signed-in user may call it (self-service). Put it under the router decorator."""
    setattr(func, ACCESS_ATTR, Access.SIGNED_IN)
    return func


def access_of(func: Callable[..., Any]) -> Access:
    return Access(getattr(func, ACCESS_ATTR, Access.PERMISSION))
