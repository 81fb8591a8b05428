"""The periodic-task list's bulk actions follow the same grants as the rest of the admin: viewers get none,
changing grants enable/disable/toggle, running needs the run-now operation."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django_celery_beat.models import PeriodicTask

from tests.factories import UserFactory
from tests.helpers import _grant

pytestmark = pytest.mark.django_db(transaction=True)

READ = ("GET:/api/v1/schedules", "GET:/api/v1/schedules/{schedule_id}")
CHANGE = (*READ, "PATCH:/api/v1/schedules/{schedule_id}", "GET:/api/v1/tasks/registered")
RUN = (*READ, "POST:/api/v1/schedules/{schedule_id}/run")
BULK = {"enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks"}


def _offered(codes: tuple[str, ...]) -> set[str]:
    user = UserFactory.create(is_staff=True)
    _grant(user, codes, None)
    request = RequestFactory().get("/admin/django_celery_beat/periodictask/")
    request.user = type(user).objects.get(pk=user.pk)
    return set(admin.site._registry[PeriodicTask].get_actions(request)) & BULK


def test_viewers_are_offered_no_bulk_action():
    assert _offered(READ) == set()


def test_changing_offers_enable_disable_toggle_and_running_needs_run():
    assert _offered(CHANGE) == {"enable_tasks", "disable_tasks", "toggle_tasks"}
    assert _offered(RUN) == {"run_tasks"}


def test_superusers_are_offered_every_bulk_action():
    user = UserFactory.create(is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/django_celery_beat/periodictask/")
    request.user = user
    assert set(admin.site._registry[PeriodicTask].get_actions(request)) >= BULK


def test_every_admin_action_declares_its_permission():
    """An action without `allowed_permissions` is offered to anyone who can view the list."""
    undeclared = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            function = getattr(model_admin, action) if isinstance(action, str) else action
            if not getattr(function, "allowed_permissions", None):
                undeclared.append(f"{model._meta.label}.{getattr(function, '__name__', action)}")
    assert not undeclared
