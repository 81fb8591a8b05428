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


@pytest.mark.django_db(transaction=True)
async def test_paginate_queryset_pages_past_the_middle_match_a_forward_read():
    for i in range(45):
        await User.objects.acreate(username=f"user{i:02d}")
    ordered = User.objects.order_by("username")
    names = [u.username async for u in User.objects.order_by("username")]
    for size in (1, 7, 20):
        for number in range(1, 45 // size + 3):
            result = await paginate_queryset(ordered, PageIn(page=number, page_size=size))
            start = (number - 1) * size
            assert [u.username for u in result["items"]] == names[start : start + size], (size, number)
            assert result["total"] == 45
