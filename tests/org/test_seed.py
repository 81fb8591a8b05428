"""initdb seeds a root department and puts the first superuser (and every user without one) in it."""

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.org.models import Department
from apps.org.services import ROOT_CODE

pytestmark = pytest.mark.django_db(transaction=True)


def test_initdb_puts_the_first_superuser_in_the_root_department(settings):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "boss", "Boss-pass-123456!"
    Department.objects.all().delete()  # the data migration's root, if the test database kept it
    call_command("initdb")
    root = Department.objects.get(code=ROOT_CODE)
    assert root.parent is None and root.path == f"/{root.pk}/"
    assert User.objects.get(username="boss").department_id == root.pk
    call_command("initdb")  # idempotent: still one root
    assert Department.objects.filter(code=ROOT_CODE).count() == 1
