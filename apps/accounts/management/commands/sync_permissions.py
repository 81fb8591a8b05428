from typing import Any

from django.core.management.base import BaseCommand

from apps.accounts.permissions_sync import sync_permissions


class Command(BaseCommand):
    help = "Create, rename and remove API permissions so they match the route table (also runs after migrate)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = sync_permissions()
        for code in report.created:
            self.stdout.write(f"created  {code}")
        for old, new in report.renamed:
            self.stdout.write(f"renamed  {old} -> {new}")
        for code in report.updated:
            self.stdout.write(f"updated  {code}")
        for code in report.removed:
            self.stdout.write(f"removed  {code}")
        self.stdout.write(
            self.style.SUCCESS(
                f"sync_permissions: {len(report.created)} created, {len(report.renamed)} renamed, "
                f"{len(report.updated)} updated, {len(report.removed)} removed"
            )
        )
