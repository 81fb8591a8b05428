"""Page-number pagination: {items, total, page, page_size}, page from 1, page_size 20 by default, capped at 100."""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far beyond any real list, and keeps OFFSET ((page - 1) * size) well inside PostgreSQL's bigint.
MAX_PAGE = 1_000_000


class PageIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, description=f"Items per page, at most {MAX_PAGE_SIZE}")

    @property
    def size(self) -> int:
        return min(self.page_size, MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


class Page(Schema, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


def page_of(items: Sequence[Any], *, total: int, page: PageIn) -> dict[str, Any]:
    return {"items": list(items), "total": total, "page": page.page, "page_size": page.size}


async def paginate_queryset(queryset: QuerySet[Any], page: PageIn, *, total: int | None = None) -> dict[str, Any]:
    """One page of an ordered queryset (callers give a stable order_by); `total`: its row count when the caller
    knows it without counting."""
    if total is None:
        total = await queryset.acount()
    offset = page.offset
    if offset >= total:
        items: list[Any] = []
    elif offset > total // 2 and queryset.ordered:
        # A page in the second half is read from the other end in the reverse order: the database skips at most
        # half the rows, and the last page (what a "jump to the end" asks for) skips none.
        end = total - offset
        items = [item async for item in queryset.reverse()[max(0, end - page.size) : end]]
        items.reverse()
    else:
        items = [item async for item in queryset[offset : offset + page.size]]
    return page_of(items, total=total, page=page)
