import io

import pytest
from django.core.management.color import no_style
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.storage.client import get_client
from apps.storage.seed import CLEANUP_SCHEDULE_NAME, CLEANUP_TASK, seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_bucket(settings):
    settings.S3_BUCKET = f"{settings.S3_BUCKET}-seed"
    yield settings.S3_BUCKET
    if get_client().bucket_exists(settings.S3_BUCKET):
        get_client().remove_bucket(settings.S3_BUCKET)


def test_seed_creates_the_bucket_and_one_editable_schedule(fresh_bucket):
    out = io.StringIO()
    seed(stdout=out, style=no_style())
    assert get_client().bucket_exists(fresh_bucket)
    task = PeriodicTask.objects.get(name=CLEANUP_SCHEDULE_NAME)
    assert (task.task, task.enabled, task.interval.every, task.interval.period) == (
        CLEANUP_TASK,
        True,
        1,
        IntervalSchedule.HOURS,
    )

    # An administrator changes the schedule; seeding again keeps the change and adds nothing.
    task.enabled = False
    task.interval = IntervalSchedule.objects.create(every=6, period=IntervalSchedule.HOURS)
    task.save()
    seed(stdout=out, style=no_style())
    assert PeriodicTask.objects.filter(task=CLEANUP_TASK).count() == 1
    task.refresh_from_db()
    assert (task.enabled, task.interval.every) == (False, 6)
    assert "already exists" in out.getvalue()


def test_seed_survives_unreachable_object_storage(settings):
    settings.S3_ENDPOINT = "127.0.0.1:1"
    settings.HEALTH_CHECK_TIMEOUT = 0.3
    out = io.StringIO()
    seed(stdout=out, style=no_style())
    assert "unreachable" in out.getvalue()
    assert PeriodicTask.objects.filter(name=CLEANUP_SCHEDULE_NAME).exists()


async def test_initdb_lets_administrator_role_holders_manage_every_users_files(fresh_bucket, settings):
    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    from apps.accounts.models import Role, User
    from apps.storage.permissions import can_manage_all_files

    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "seed-root", "Tr0ub4dor-horse-9"

    def setup() -> tuple[User, User]:
        call_command("initdb", stdout=io.StringIO())
        operator = User.objects.create_user(username="seed-operator", password="x-pass-12345", is_staff=True)
        operator.groups.add(Role.objects.get(name="administrator"))
        reader = User.objects.create_user(username="seed-reader", password="x-pass-12345", is_staff=True)
        reader.groups.add(Role.objects.get(name="read-only"))
        return operator, reader

    operator, reader = await sync_to_async(setup)()
    assert await can_manage_all_files(operator)
    assert not await can_manage_all_files(reader)
