"""Idempotent first-run set-up: runs each app's `seed.seed()` in INSTALLED_APPS order."""

from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first superuser, default roles, permissions, schedules and buckets (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for app_config in apps.get_app_configs():
            if not app_config.name.startswith("apps."):
                continue
            try:
                module = import_module(f"{app_config.name}.seed")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.seed":
                    raise
                continue
            module.seed(stdout=self.stdout, style=self.style)
        self.stdout.write(self.style.SUCCESS("initdb: done"))
