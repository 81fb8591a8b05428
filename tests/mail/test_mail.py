"""The mail service end to end: templates rendered per language, queued, sent by a real worker through a real
SMTP server (aiosmtpd), a send record per mail; with the server down the mail waits, is retried and recorded."""

import asyncio
import smtplib

import pytest
from asgiref.sync import sync_to_async

from apps.mail.models import OutboxMail
from apps.mail.services import mail_language, mail_queue, mail_render
from apps.mail.tasks import is_permanent, retry_delay
from apps.scheduler.selectors import task_run_get_sync
from tests.mail.support import parts, unique_address, wait_for_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_mail_language_maps_variants_and_falls_back_to_the_default():
    assert mail_language("zh-Hans") == "zh-hans"
    assert mail_language("zh-cn") == "zh-hans"
    assert mail_language("en-GB") == "en"
    assert mail_language("fr") == "en"
    assert mail_language(None) == "en"


def test_mail_render_text_html_and_subject_per_language():
    context = {"subject": "Hello & welcome", "body": "Line <one>", "link": "https://example.test/?a=1&b=2"}
    english = mail_render(template="notice", context=context, language="en")
    assert english.language == "en" and english.subject == "Hello & welcome"
    assert "Line <one>" in english.text and "https://example.test/?a=1&b=2" in english.text  # text is not escaped
    assert "Line &lt;one&gt;" in english.html and 'lang="en"' in english.html  # HTML is
    chinese = mail_render(template="notice", context=context, language="zh-hans")
    assert chinese.language == "zh-hans" and "打开" in chinese.html and 'lang="zh-hans"' in chinese.html


def test_retry_delay_doubles_up_to_the_cap(settings):
    settings.MAIL_RETRY_DELAY, settings.MAIL_RETRY_MAX_DELAY = 30, 100
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_only_5xx_answers_are_permanent():
    assert is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (450, b"try later")}))
    assert is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not is_permanent(smtplib.SMTPServerDisconnected("gone"))
    assert not is_permanent(ConnectionRefusedError())


async def test_mail_reaches_the_smtp_server_with_both_parts_and_a_send_record(mail_worker, smtp_up):
    to = unique_address()
    mail_id = await mail_queue(
        to=[to],
        template="notice",
        context={"subject": "测试邮件", "body": "你好", "link": "https://example.test/x"},
        language="zh-hans",
    )
    (message,) = await sync_to_async(smtp_up.wait_for)(to)
    assert message["Subject"] == "测试邮件"
    text, html = parts(message)
    assert "你好" in text and "https://example.test/x" in text
    assert "你好" in html and 'href="https://example.test/x"' in html
    record = await sync_to_async(wait_for_record)(mail_id, status="sent")
    assert record["to"] == [to] and record["template"] == "notice" and record["language"] == "zh-hans"
    assert record["attempts"] == 1 and record["error"] is None and record["sent_at"] is not None
    # Sent: nothing of it is kept (the worker deletes the copy right after writing the record).
    for _ in range(100):
        if not await OutboxMail.objects.filter(pk=mail_id).aexists():
            break
        await asyncio.sleep(0.1)
    assert not await OutboxMail.objects.filter(pk=mail_id).aexists()
    # The message on the broker (and the task-run record) carries the outbox id only, never the mail's content.
    run = await sync_to_async(task_run_get_sync)(record["task_id"])
    assert run is not None and run["args"] == [mail_id]


async def test_smtp_server_down_mail_is_retried_recorded_and_delivered_later(mail_worker, smtp_up):
    await sync_to_async(smtp_up.stop)()
    to = unique_address("down")
    mail_id = await mail_queue(to=[to], template="notice", context={"subject": "Later", "body": "b"})
    record = await sync_to_async(wait_for_record)(mail_id, status="retrying")
    assert record["attempts"] >= 1 and "Connection refused" in (record["error"] or "")
    assert await OutboxMail.objects.filter(pk=mail_id).aexists()  # still waiting to be sent
    await sync_to_async(smtp_up.start)()
    (message,) = await sync_to_async(smtp_up.wait_for)(to, timeout=30)
    assert message["Subject"] == "Later"
    record = await sync_to_async(wait_for_record)(mail_id, status="sent")
    assert record["attempts"] >= 2 and record["error"] is None


async def test_retries_used_up_is_recorded_failed_and_the_mail_is_kept(mail_worker, smtp_up):
    await sync_to_async(smtp_up.stop)()
    mail_id = await mail_queue(to=[unique_address("fail")], template="notice", context={"subject": "s", "body": "b"})
    # MAIL_MAX_RETRIES=3 in the worker: the 4th attempt is the last (1 + 2 + 4 s apart).
    record = await sync_to_async(wait_for_record)(mail_id, status="failed", timeout=40)
    assert record["attempts"] == 4 and "Connection refused" in record["error"]
    assert await OutboxMail.objects.filter(pk=mail_id).aexists()
