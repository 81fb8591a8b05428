"""GET /mail/sends and POST /mail/sends/{mail_id}/resend: RBAC, filters, validation, not found, conflicts, and
a resend delivered through the real SMTP server."""

import uuid
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.models import User
from apps.mail import records
from apps.mail.documents import SendStatus
from apps.mail.models import OutboxMail
from apps.mail.services import mail_render
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant
from tests.mail.support import unique_address, wait_for_record

pytestmark = pytest.mark.django_db(transaction=True)

VIEW = "GET:/api/v1/mail/sends"
RESEND = "POST:/api/v1/mail/sends/{mail_id}/resend"


async def _headers(*codes: str) -> dict[str, str]:
    user = cast(User, await sync_to_async(UserFactory)(username=unique_address("api").split("@")[0]))
    if codes:
        await grant(user, *codes)
    return await bearer_headers(user)


def _record(to: str, status: SendStatus, *, outbox: bool = False) -> str:
    """A send record by the service's own writers; with `outbox`, the mail's outbox row is kept too (a failed
    mail keeps its row)."""
    rendered = mail_render(template="notice", context={"subject": "Kept", "body": "kept body"})
    mail_id = str(uuid.uuid4())
    if outbox:
        mail_id = str(
            OutboxMail.objects.create(
                to=[to], template="notice", language=rendered.language, subject=rendered.subject, text=rendered.text
            ).pk
        )
    fields = records.identity(mail_id=mail_id, to=[to], template="notice", language="en", subject=rendered.subject)
    records.write_queued(fields)
    if status is not SendStatus.QUEUED:
        attempts = 4 if status is SendStatus.FAILED else 1
        error = None if status is SendStatus.SENT else "ConnectionRefusedError: [Errno 111] Connection refused"
        records.write_attempt(fields, attempt=attempts, status=status, error=error, task_id=str(uuid.uuid4()))
    return mail_id


async def _post(client: Any, path: str, headers: dict[str, str]) -> Any:
    return await client.post(path, data="{}", content_type="application/json", headers=headers)


async def test_the_routes_need_their_codes(client):
    mail_id = await sync_to_async(_record)(unique_address("rbac"), SendStatus.FAILED, outbox=True)
    headers = await _headers("GET:/api/v1/users")
    listed = await client.get("/api/v1/mail/sends", headers=headers)
    assert (listed.status_code, envelope_of(listed)["code"]) == (403, 40300)
    resent = await _post(client, f"/api/v1/mail/sends/{mail_id}/resend", await _headers(VIEW))
    assert (resent.status_code, envelope_of(resent)["code"]) == (403, 40300)
    assert (await client.get("/api/v1/mail/sends")).status_code == 401
    assert await OutboxMail.objects.filter(pk=mail_id).aexists()  # nothing was resent


async def test_the_list_filters_by_status_and_address_newest_first(client):
    to = unique_address("list")
    sent = await sync_to_async(_record)(to, SendStatus.SENT)
    failed = await sync_to_async(_record)(to, SendStatus.FAILED)
    await sync_to_async(_record)(unique_address("other"), SendStatus.FAILED)
    headers = await _headers(VIEW)

    mine = envelope_of(await client.get("/api/v1/mail/sends", {"to": to.upper()}, headers=headers))["data"]
    assert [item["mail_id"] for item in mine["items"]] == [failed, sent] and mine["total"] == 2
    item = mine["items"][0]
    assert item["to"] == [to] and item["status"] == "failed" and item["attempts"] == 4
    assert "Connection refused" in item["error"] and item["template"] == "notice" and item["queued_at"]
    only = envelope_of(await client.get("/api/v1/mail/sends", {"to": to, "status": "sent"}, headers=headers))["data"]
    assert [item["mail_id"] for item in only["items"]] == [sent]
    part = envelope_of(await client.get("/api/v1/mail/sends", {"to": to[:8]}, headers=headers))["data"]
    assert part["total"] == 0  # the address filter is exact (any case), not a substring search
    paged = envelope_of(await client.get("/api/v1/mail/sends", {"to": to, "page_size": 1, "page": 2}, headers=headers))
    assert [item["mail_id"] for item in paged["data"]["items"]] == [sent] and paged["data"]["total"] == 2


@pytest.mark.parametrize(
    "query",
    [{"status": "bogus"}, {"to": "x" * 300}, {"to": ""}, {"page": 0}, {"page": 10**7}, {"page_size": 0}],
)
async def test_bad_list_parameters_are_42200(client, query):
    response = await client.get("/api/v1/mail/sends", query, headers=await _headers(VIEW))
    assert (response.status_code, envelope_of(response)["code"]) == (422, 42200)


async def test_resend_answers_404_for_an_unknown_mail_42200_for_a_bad_id_and_409_unless_failed(client):
    headers = await _headers(VIEW, RESEND)
    unknown = await _post(client, f"/api/v1/mail/sends/{uuid.uuid4()}/resend", headers)
    assert (unknown.status_code, envelope_of(unknown)["code"]) == (404, 40400)
    bad = await _post(client, "/api/v1/mail/sends/not-a-uuid/resend", headers)
    assert (bad.status_code, envelope_of(bad)["code"]) == (422, 42200)
    sent = await sync_to_async(_record)(unique_address("sent"), SendStatus.SENT)
    conflict = await _post(client, f"/api/v1/mail/sends/{sent}/resend", headers)
    assert (conflict.status_code, envelope_of(conflict)["code"]) == (409, 40900)
    retrying = await sync_to_async(_record)(unique_address("retry"), SendStatus.RETRYING, outbox=True)
    busy = await _post(client, f"/api/v1/mail/sends/{retrying}/resend", headers)
    assert (busy.status_code, envelope_of(busy)["code"]) == (409, 40900)
    assert await OutboxMail.objects.filter(pk=retrying).aexists()


async def test_resend_queues_a_new_mail_that_is_delivered(client, mail_worker, smtp_up):
    to = unique_address("again")
    failed = await sync_to_async(_record)(to, SendStatus.FAILED, outbox=True)
    headers = await _headers(VIEW, RESEND)
    response = await _post(client, f"/api/v1/mail/sends/{failed}/resend", headers)
    assert response.status_code == 202, response.content
    new_id = envelope_of(response)["data"]["mail_id"]
    assert new_id != failed

    (message,) = await sync_to_async(smtp_up.wait_for)(to)
    assert message["Subject"] == "Kept" and "kept body" in message.get_body(preferencelist=("plain",)).get_content()
    fresh = await sync_to_async(wait_for_record)(new_id, status="sent", resent_from=failed)
    assert fresh["attempts"] == 1
    listed = envelope_of(await client.get("/api/v1/mail/sends", {"to": to}, headers=headers))["data"]
    by_id = {item["mail_id"]: item for item in listed["items"]}
    assert by_id[failed]["status"] == "failed" and by_id[failed]["resent_as"] == new_id
    assert by_id[new_id]["resent_from"] == failed

    twice = await _post(client, f"/api/v1/mail/sends/{failed}/resend", headers)
    assert (twice.status_code, envelope_of(twice)["code"]) == (409, 40900)
