"""Fixtures of the mail and onboarding tests (tests/onboarding/conftest.py imports them)."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.mail.support import SmtpServer, private_queue, start_worker, worker_env
from tests.scheduler.conftest import Service


@pytest.fixture(scope="package")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def mail_queue_name(django_db_setup: Any) -> Iterator[str]:
    with private_queue() as queue:
        yield queue


@pytest.fixture(scope="package")
def mail_worker(smtp: SmtpServer, mail_queue_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start_worker(worker_env(smtp, mail_queue_name), mail_queue_name, tmp_path_factory.mktemp("worker"))
    yield service
    service.stop()


@pytest.fixture
def smtp_up(smtp: SmtpServer) -> Iterator[SmtpServer]:
    """The server is up when the test starts and after it ends (a test may stop it)."""
    smtp.start()
    yield smtp
    smtp.start()
