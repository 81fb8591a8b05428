import pytest

from apps.accounts.models import User
from apps.core.pagination import MAX_PAGE_SIZE, PageIn, paginate_queryset


def test_page_size_is_capped():
    page = PageIn(page=2, page_size=1000)
    assert page.size == MAX_PAGE_SIZE
    assert page.offset == MAX_PAGE_SIZE


def test_page_must_start_at_one():
    with pytest.raises(ValueError):
        PageIn(page=0, page_size=20)


@pytest.mark.django_db(transaction=True)
async def test_paginate_queryset_returns_stable_pages():
    for i in range(5):
        await User.objects.acreate(username=f"user{i}")
    result = await paginate_queryset(User.objects.order_by("username"), PageIn(page=2, page_size=2))
    assert result["total"] == 5
    assert result["page"] == 2 and result["page_size"] == 2
    assert [u.username for u in result["items"]] == ["user2", "user3"]
