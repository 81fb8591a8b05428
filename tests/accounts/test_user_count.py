"""The user table's trigger-kept row count (migration 0006) and the user list's total that reads it."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from apps.accounts.models import TableRowCount, User
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


def kept() -> int | None:
    return TableRowCount.objects.filter(table_name="accounts_user").values_list("row_count", flat=True).first()


def kept_matches_table() -> bool:
    return kept() == User.objects.count()


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.fail("the row-count triggers are PostgreSQL's; run the suite with scripts/test.sh")


@sync_to_async
def _create_and_delete() -> list[int | None]:
    seen = []
    UserFactory.create(username="one")
    seen.append(kept())
    User.objects.bulk_create([User(username=f"bulk{i}") for i in range(50)])
    seen.append(kept())
    User.objects.filter(username__startswith="bulk1").delete()  # bulk1, bulk10..bulk19
    seen.append(kept())
    User.objects.get(username="one").delete()
    seen.append(kept())
    return seen


async def test_the_count_follows_inserts_bulk_inserts_and_deletes():
    before = await sync_to_async(User.objects.count)()
    assert await sync_to_async(kept)() == before
    assert await _create_and_delete() == [before + 1, before + 51, before + 40, before + 39]
    assert await sync_to_async(kept_matches_table)()


@sync_to_async
def _truncate_then_insert() -> tuple[int | None, int | None]:
    UserFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user CASCADE")
    after_truncate = kept()
    UserFactory.create_batch(2)
    return after_truncate, kept()


async def test_truncate_resets_the_count():
    assert await _truncate_then_insert() == (0, 2)


@sync_to_async
def _lose_the_row_then_insert() -> tuple[int | None, bool]:
    UserFactory.create_batch(4)
    TableRowCount.objects.all().delete()
    missing = kept()
    UserFactory.create()
    return missing, kept_matches_table()


async def test_a_lost_count_row_is_rebuilt_from_a_full_count():
    assert await _lose_the_row_then_insert() == (None, True)


@sync_to_async
def _set_kept(value: int | None) -> None:
    if value is None:
        TableRowCount.objects.all().delete()
    else:
        TableRowCount.objects.filter(table_name="accounts_user").update(row_count=value)


async def test_the_unfiltered_user_list_reads_the_kept_count_and_a_filtered_one_counts(client, admin_user):
    await sync_to_async(UserFactory.create_batch)(25)
    headers = await bearer_headers(admin_user)
    total = await sync_to_async(User.objects.count)()
    page = envelope_of(await client.get("/api/v1/users?page=2&page_size=20", headers=headers))["data"]
    assert page["total"] == total and len(page["items"]) == total - 20
    # The list's total is the kept count, not a COUNT(*): a planted figure shows through ...
    await _set_kept(total + 1000)
    assert envelope_of(await client.get("/api/v1/users", headers=headers))["data"]["total"] == total + 1000
    # ... but a filtered list counts its own rows,
    searched = envelope_of(await client.get("/api/v1/users?search=root", headers=headers))["data"]
    assert searched["total"] == 1
    # and without a kept count the list counts the table.
    await _set_kept(None)
    assert envelope_of(await client.get("/api/v1/users", headers=headers))["data"]["total"] == total


async def test_the_last_page_of_the_list_is_exact_with_the_kept_count(client, admin_user):
    await sync_to_async(UserFactory.create_batch)(44)
    headers = await bearer_headers(admin_user)
    names = sorted(await sync_to_async(lambda: list(User.objects.values_list("username", flat=True)))())
    assert len(names) == 45
    last = envelope_of(await client.get("/api/v1/users?page=3&page_size=20", headers=headers))["data"]
    assert last["total"] == 45
    assert [u["username"] for u in last["items"]] == names[40:]
