"""The mail sends page of the admin: the MongoDB send records with a status filter, address search, bounded
parameters and CSV export, and "Resend" of a failed mail, delivered through the real SMTP server and worker."""

import csv
import io
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.accounts.models import User
from apps.mail import records
from apps.mail.documents import SendStatus
from apps.mail.models import OutboxMail
from apps.mail.services import mail_queue_sync
from tests.factories import UserFactory
from tests.helpers import grant
from tests.mail.support import unique_address, wait_for_record

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/mail/mailsendentry/"
VIEW = "GET:/api/v1/mail/sends"
RESEND = "POST:/api/v1/mail/sends/{mail_id}/resend"


def _detail(mail_id: str) -> str:
    return reverse("admin:mail_mailsendentry_change", args=[mail_id])


def _resend(mail_id: str) -> str:
    return reverse("admin:mail_mailsendentry_resend", args=[mail_id])


def _staff(*codes: str, **fields: Any) -> User:
    user: User = UserFactory(username=unique_address("mail-staff").split("@")[0], is_staff=True, **fields)
    if codes:
        async_to_sync(grant)(user, *codes, name=f"r-{user.username}")
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _record(to: str, status: SendStatus, *, attempts: int = 1, error: str | None = None) -> str:
    """A send record written by the mail service's own record writers (no outbox row)."""
    mail_id = str(uuid.uuid4())
    fields = records.identity(mail_id=mail_id, to=[to], template="notice", language="en", subject="Subject")
    records.write_queued(fields)
    if status is not SendStatus.QUEUED:
        records.write_attempt(fields, attempt=attempts, status=status, error=error, task_id=str(uuid.uuid4()))
    return mail_id


async def _body(response: Any) -> str:
    """A streamed CSV export (an async iterator, as under ASGI)."""
    return b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8-sig")


def _visible(user: User) -> set[str]:
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=user.pk)
    return {model["object_name"].lower() for app in admin.site.get_app_list(request) for model in app["models"]}


def test_the_page_lists_filters_searches_and_exports_the_records():
    marker = uuid.uuid4().hex[:10]
    sent = _record(f"sent-{marker}@example.test", SendStatus.SENT)
    failed = _record(f"failed-{marker}@example.test", SendStatus.FAILED, attempts=4, error="ConnectionRefusedError: x")
    retrying = _record(f"retry-{marker}@example.test", SendStatus.RETRYING, error="SMTPServerDisconnected: y")
    client = _client(_staff(is_superuser=True))

    page = client.get(LIST, {"q": marker.upper()})  # any case
    assert page.status_code == 200
    html = page.content.decode()
    for mail_id in (sent, failed, retrying):
        assert _detail(mail_id) in html
    assert "3 records" in html and "ConnectionRefusedError" in html and "notice" in html
    assert html.count("resend-link") == 1 and _resend(failed) in html  # only the failed one

    only_failed = client.get(LIST, {"q": marker, "status": "failed"}).content.decode()
    assert _detail(failed) in only_failed and _detail(sent) not in only_failed and _detail(retrying) not in only_failed

    exported = client.get(reverse("admin:mail_mailsendentry_export"), {"q": marker})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(async_to_sync(_body)(exported))))
    assert len(rows) == 4 and {row[0] for row in rows[1:]} == {sent, failed, retrying}

    detail = client.get(_detail(failed)).content.decode()
    assert f"failed-{marker}@example.test" in detail and _resend(failed) in detail
    assert client.get(_detail(str(uuid.uuid4()))).status_code == 404


def test_bad_parameters_get_a_clear_message_never_a_500():
    client = _client(_staff(is_superuser=True))
    long_search = client.get(LIST, {"q": "a" * 1500})
    assert long_search.status_code == 200
    assert "The search text was cut to its first 200 characters." in long_search.content.decode()
    huge_page = client.get(LIST, {"p": "9" * 40})
    assert huge_page.status_code == 200 and "There is no page" in huge_page.content.decode()
    not_a_page = client.get(LIST, {"p": "abc"})
    assert not_a_page.status_code == 200 and "is not a page number" in not_a_page.content.decode()
    bad_status = client.get(LIST, {"status": "bogus"})
    assert bad_status.status_code == 200 and "(ignored)" in bad_status.content.decode()
    assert client.get(reverse("admin:mail_mailsendentry_export"), {"q": "b" * 5000}).status_code == 200
    assert client.get(_detail("x" * 3000)).status_code == 404


def test_staff_see_exactly_what_their_codes_allow():
    failed = _record(unique_address("perm"), SendStatus.FAILED, attempts=4, error="e")
    reader = _staff(VIEW)
    client = _client(reader)
    assert "mailsendentry" in _visible(reader)
    assert 'href="/admin/mail/mailsendentry/"' in client.get("/admin/").content.decode()
    listed = client.get(LIST).content.decode()
    assert "resend-link" not in listed
    assert _resend(failed) not in client.get(_detail(failed)).content.decode()
    assert client.get(_resend(failed)).status_code == 403
    assert client.post(_resend(failed)).status_code == 403

    resender = _staff(VIEW, RESEND)
    assert _resend(failed) in _client(resender).get(_detail(failed)).content.decode()

    nobody = _staff("GET:/api/v1/users")
    assert "mailsendentry" not in _visible(nobody)
    assert _client(nobody).get(LIST).status_code == 403
    assert _client(nobody).get(_detail(failed)).status_code == 403
    assert 'href="/admin/mail/mailsendentry/"' not in _client(nobody).get("/admin/").content.decode()


def test_resend_of_a_failed_mail_delivers_once_the_server_is_back(mail_worker, smtp_up):
    smtp_up.stop()
    to = unique_address("resend")
    mail_id = mail_queue_sync(to=[to], template="notice", context={"subject": "Again", "body": "b"})
    # MAIL_MAX_RETRIES=3 in the worker: the 4th attempt is the last (1 + 2 + 4 s apart).
    wait_for_record(mail_id, status="failed", timeout=40)
    smtp_up.start()
    client = _client(_staff(VIEW, RESEND))

    confirm = client.get(_resend(mail_id))
    assert confirm.status_code == 200 and "Yes, resend it" in confirm.content.decode()
    done = client.post(_resend(mail_id))
    assert done.status_code == 302
    new_id = done["Location"].rstrip("/").split("/")[-1]
    assert new_id != mail_id

    (message,) = smtp_up.wait_for(to, timeout=30)
    assert message["Subject"] == "Again"
    fresh = wait_for_record(new_id, status="sent", resent_from=mail_id)
    assert fresh["attempts"] == 1 and fresh["error"] is None and fresh["to"] == [to]
    old = records.record_get(mail_id)
    assert old is not None and old["status"] == "failed" and old["attempts"] == 4 and old["resent_as"] == new_id
    assert not OutboxMail.objects.filter(pk=mail_id).exists()

    again = client.post(_resend(mail_id), follow=True)  # resent already: a message, not a second mail
    assert again.status_code == 200 and "only once" in again.content.decode()
    page = client.get(LIST, {"q": to}).content.decode()
    assert _detail(new_id) in page and _detail(mail_id) in page and "resend-link" not in page
    assert len(smtp_up.messages(to)) == 1
