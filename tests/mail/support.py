"""A real SMTP server (aiosmtpd, started by scripts/services.sh) and a real Celery worker for the mail tests.

Each test package gets its own SMTP server on a free port with its own maildir (so it can be stopped and
started again, and holds only this run's mail), and a worker that sends through it, consuming a queue only
this package publishes to.
"""

import email.message
import email.policy
import mailbox
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any, cast

from django.db import connection
from kombu import pools

from apps.mail import records
from config.celery import app as celery_app
from tests.scheduler.conftest import Service, _broker_url, _database_url, _forget_connections

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://\S+?token=([A-Za-z0-9_\-]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """`scripts/services.sh start-only smtp` on a port and state folder of its own."""

    def __init__(self, state: Path) -> None:
        self.port = free_port()
        self.state = state
        self.maildir = state / "smtp-maildir"

    def _services(self, *args: str) -> None:
        env = {
            **os.environ,
            "SERVICES_DIR": str(self.state),
            "SMTP_PORT": str(self.port),
            "SMTP_MAILDIR": str(self.maildir),
        }
        subprocess.run([str(ROOT / "scripts" / "services.sh"), *args], env=env, check=True, timeout=60)

    def start(self) -> None:
        self._services("start-only", "smtp")

    def stop(self) -> None:
        self._services("stop-only", "smtp")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)
        raise AssertionError("the SMTP server did not stop")

    def messages(self, to: str) -> list[email.message.EmailMessage]:
        """Mails to `to`, oldest delivery first (a Maildir lists its files in no particular order)."""
        box = mailbox.Maildir(str(self.maildir), create=False)
        delivered = sorted((box.get_message(key).get_date(), key) for key in box.iterkeys())
        found = []
        for _, key in delivered:
            raw = box.get_bytes(key)
            message = cast(email.message.EmailMessage, message_from_bytes(raw, policy=email.policy.default))
            if to.lower() in str(message.get("To", "")).lower():
                found.append(message)
        return found

    def wait_for(self, to: str, *, count: int = 1, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} mail(s) to {to} not received within {timeout}s (got {len(self.messages(to))})")


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    """(text, html) bodies of a received mail."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else ""), (html.get_content() if html else "")


def token_of(message: email.message.EmailMessage) -> str:
    text, _ = parts(message)
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def unique_address(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


def wait_for_record(mail_id: str, *, status: str | None = None, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = records.record_get(mail_id)
        wanted = record is not None and (status is None or record["status"] == status)
        if wanted and all(record.get(k) == v for k, v in fields.items()):  # type: ignore[union-attr]
            return record  # type: ignore[return-value]
        time.sleep(0.1)
    raise AssertionError(f"send record of {mail_id} not {status} within {timeout}s: {record}")


def _forget_all_connections() -> None:
    _forget_connections()
    # kombu's process-wide pools are keyed by broker URL and keep the app pool just closed: a later switch back
    # to that URL (the next package, or the scheduler tests) would acquire from a closed pool.
    pools.reset()


@contextmanager
def private_queue() -> Iterator[str]:
    """Publish to a queue of our own on the broker database nobody flushes; restore the app's setup after."""
    queue = f"tests-mail-{uuid.uuid4().hex[:12]}"
    previous = {
        "task_default_queue": celery_app.conf.task_default_queue,
        "broker_url": celery_app.conf.broker_url,
        "result_backend": celery_app.conf.result_backend,
        "task_always_eager": celery_app.conf.task_always_eager,
    }
    _forget_all_connections()
    celery_app.conf.update(
        task_default_queue=queue, broker_url=_broker_url(), result_backend=_broker_url(), task_always_eager=False
    )
    try:
        yield queue
    finally:
        try:
            with celery_app.connection_for_write() as conn:
                cast(Any, conn.default_channel).client.delete(queue, f"_kombu.binding.{queue}")
        except Exception:
            pass
        _forget_all_connections()
        celery_app.conf.update(previous)


def worker_env(smtp: SmtpServer, queue: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(
        DATABASE_URL=_database_url(),
        CELERY_TASK_DEFAULT_QUEUE=queue,
        CELERY_BROKER_URL=_broker_url(),
        CELERY_RESULT_BACKEND=_broker_url(),
        CELERY_TASK_ALWAYS_EAGER="false",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        EMAIL_TIMEOUT="5",
        MAIL_MAX_RETRIES="3",
        MAIL_RETRY_DELAY="1",
        MAIL_RETRY_MAX_DELAY="4",
        LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    env.pop("DATABASE_TEST_NAME", None)
    assert connection.settings_dict["NAME"]
    return env


def start_worker(env: dict[str, str], queue: str, log_dir: Path) -> Service:
    from apps.scheduler.tasks import ping

    service = Service(
        "mail-worker",
        [
            "worker",
            "-l",
            "info",
            "-P",
            "prefork",
            "-c",
            "1",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        log_dir,
    )
    try:
        assert ping.delay().get(timeout=90) == "pong"
    except Exception as exc:
        service.stop()
        raise AssertionError(f"the worker did not answer: {exc!r}\n{service.output()}") from exc
    return service
