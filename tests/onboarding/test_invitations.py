"""Invitations end to end: an operator invites with roles, the invitee's link (mailed through the real SMTP
server) creates the account once; expired and revoked links are refused; RBAC and escalation guard."""

from datetime import timedelta
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.onboarding.models import Invitation
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant, login
from tests.mail.support import parts, token_of, unique_address
from tests.onboarding.conftest import post, sealed, wait_login_event

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Quartz-Lantern-8143"  # nothing like the invitee's name or address (the similarity check)
CODES = (
    "GET:/api/v1/invitations",
    "POST:/api/v1/invitations",
    "GET:/api/v1/invitations/{invitation_id}",
    "DELETE:/api/v1/invitations/{invitation_id}",
)


async def _operator(*codes: str) -> tuple[User, dict[str, str]]:
    user = cast(User, await sync_to_async(UserFactory)(username=unique_address("op").split("@")[0]))
    if codes:
        await grant(user, *codes)
    return user, await bearer_headers(user)


async def _role(*codes: str) -> Role:
    return await grant(None, *codes, name=f"invited-{unique_address('r')[:20]}")


async def _invite(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return await post(client, "/invitations", body, **headers)


async def test_invitation_creates_the_account_with_its_roles_once(client, mail_worker, smtp_up):
    operator, headers = await _operator(*CODES, "GET:/api/v1/roles")
    role = await _role("GET:/api/v1/roles")
    email = unique_address("invitee")
    created = await _invite(client, headers, email=email, full_name="New Person", roles=[role.pk])
    assert created.status_code == 201, created.content
    invitation = envelope_of(created)["data"]
    assert invitation["status"] == "pending" and invitation["roles"] == [{"id": role.pk, "name": role.name}]
    assert invitation["invited_by"] == str(operator.pk)

    (message,) = await sync_to_async(smtp_up.wait_for)(email)
    assert "invited" in message["Subject"]
    text, html = parts(message)
    assert operator.get_full_name() in text and "/accounts/invitation/?token=" in text and "href=" in html
    token = token_of(message)

    checked = await post(client, "/auth/invitations/check", {"token": token})
    assert envelope_of(checked)["data"]["email"] == email

    body = {"token": token, "username": "invitee-" + email[8:16], "password": await sealed(client, PASSWORD)}
    accepted = await post(client, "/auth/invitations/accept", body)
    assert accepted.status_code == 201, accepted.content
    account = envelope_of(accepted)["data"]
    assert account["email"] == email and account["username"] == body["username"]
    user = await User.objects.aget(pk=account["id"])
    assert user.is_active and user.full_name == "New Person"
    assert [g async for g in user.groups.values_list("pk", flat=True)] == [role.pk]
    assert envelope_of(await login(client, user.username, PASSWORD))["code"] == 0
    await wait_login_event(event="invitation_accepted", user_id=str(user.pk), success=True)

    shown = envelope_of(await client.get(f"/api/v1/invitations/{invitation['id']}", headers=headers))["data"]
    assert shown["status"] == "accepted" and shown["user_id"] == str(user.pk)
    body2 = {"token": token, "username": "someone-else", "password": await sealed(client, PASSWORD)}
    again = await post(client, "/auth/invitations/accept", body2)
    assert (again.status_code, envelope_of(again)["code"]) == (400, 40001)
    assert envelope_of(await post(client, "/auth/invitations/check", {"token": token}))["code"] == 40001
    revoke = await client.delete(f"/api/v1/invitations/{invitation['id']}", headers=headers)
    assert (revoke.status_code, envelope_of(revoke)["code"]) == (409, 40900)


async def test_expired_and_revoked_invitations_are_refused(client, mail_worker, smtp_up):
    _, headers = await _operator(*CODES)
    expired_email, revoked_email = unique_address("exp"), unique_address("rev")
    await _invite(client, headers, email=expired_email)
    revoked = envelope_of(await _invite(client, headers, email=revoked_email))["data"]
    expired_token = token_of((await sync_to_async(smtp_up.wait_for)(expired_email))[0])
    revoked_token = token_of((await sync_to_async(smtp_up.wait_for)(revoked_email))[0])
    await Invitation.objects.filter(email=expired_email).aupdate(expires_at=timezone.now() - timedelta(seconds=1))
    assert (await client.delete(f"/api/v1/invitations/{revoked['id']}", headers=headers)).status_code == 200
    for token in (expired_token, revoked_token):
        body = {"token": token, "username": unique_address("u")[:20], "password": await sealed(client, PASSWORD)}
        response = await post(client, "/auth/invitations/accept", body)
        assert (response.status_code, envelope_of(response)["code"]) == (400, 40001)
    listed = await client.get("/api/v1/invitations?status=expired", headers=headers)
    assert [i["email"] for i in envelope_of(listed)["data"]["items"]] == [expired_email]
    listed = await client.get(f"/api/v1/invitations?status=revoked&email={revoked_email}", headers=headers)
    assert envelope_of(listed)["data"]["total"] == 1


async def test_a_new_invitation_replaces_the_pending_one(client, mail_worker, smtp_up):
    _, headers = await _operator(*CODES)
    email = unique_address("twice")
    await _invite(client, headers, email=email)
    await _invite(client, headers, email=email)
    first, second = await sync_to_async(smtp_up.wait_for)(email, count=2)
    tokens = {token_of(first), token_of(second)}
    results = []
    for token in tokens:
        body = {"token": token, "username": unique_address("u")[:20], "password": await sealed(client, PASSWORD)}
        results.append(envelope_of(await post(client, "/auth/invitations/accept", body))["code"])
    assert sorted(results) == [0, 40001]


async def test_invitation_refusals(client, mail_worker, smtp_up):
    _, headers = await _operator(*CODES)
    existing = cast(User, await sync_to_async(UserFactory)(email=unique_address("has")))
    taken = await _invite(client, headers, email=existing.email.upper())
    assert (taken.status_code, envelope_of(taken)["code"]) == (409, 40900)
    unknown_role = await _invite(client, headers, email=unique_address(), roles=[987654])
    assert (unknown_role.status_code, envelope_of(unknown_role)["code"]) == (422, 42200)
    # Inviting with a role grants it: only what the operator holds.
    powerful = await _role("DELETE:/api/v1/users/{user_id}")
    escalation = await _invite(client, headers, email=unique_address(), roles=[powerful.pk])
    assert (escalation.status_code, envelope_of(escalation)["code"]) == (403, 40300)
    bad = await _invite(client, headers, email="nope")
    assert (bad.status_code, envelope_of(bad)["code"]) == (422, 42200)
    assert envelope_of(await client.get("/api/v1/invitations/not-a-uuid", headers=headers))["code"] == 42200

    _, nobody = await _operator()
    denied = await _invite(client, nobody, email=unique_address())
    assert (denied.status_code, envelope_of(denied)["code"]) == (403, 40300)
    anonymous = await post(client, "/invitations", {"email": unique_address()})
    assert envelope_of(anonymous)["code"] == 40100


async def test_accept_refusals_keep_the_invitation(client, mail_worker, smtp_up):
    _, headers = await _operator(*CODES)
    email = unique_address("keep")
    await _invite(client, headers, email=email)
    token = token_of((await sync_to_async(smtp_up.wait_for)(email))[0])
    existing = cast(User, await sync_to_async(UserFactory)())
    taken = {"token": token, "username": existing.username, "password": await sealed(client, PASSWORD)}
    response = await post(client, "/auth/invitations/accept", taken)
    assert (response.status_code, envelope_of(response)["code"]) == (409, 40900)
    weak = {"token": token, "username": "fresh-name", "password": await sealed(client, "1")}
    response = await post(client, "/auth/invitations/accept", weak)
    assert (response.status_code, envelope_of(response)["code"]) == (422, 42200)
    bad_name = {"token": token, "username": "has space", "password": await sealed(client, PASSWORD)}
    assert envelope_of(await post(client, "/auth/invitations/accept", bad_name))["code"] == 42200
    ok = {"token": token, "username": "fresh-name", "password": await sealed(client, PASSWORD)}
    assert envelope_of(await post(client, "/auth/invitations/accept", ok))["code"] == 0


async def test_invitation_places_the_account_in_its_department(client, mail_worker, smtp_up):
    from apps.org.models import Department
    from apps.org.services import department_create_sync

    marker = unique_address("d")[2:14]
    pk = await sync_to_async(department_create_sync)(data={"name": "Sales", "code": f"sales-{marker}", "parent": None})
    department = await Department.objects.aget(pk=pk)
    admin = cast(User, await sync_to_async(UserFactory)(is_superuser=True, is_staff=True))
    headers = await bearer_headers(admin)
    email = unique_address("dept")
    created = await _invite(client, headers, email=email, department=department.pk)
    assert created.status_code == 201, created.content
    assert envelope_of(created)["data"]["department"] == department.pk
    token = token_of((await sync_to_async(smtp_up.wait_for)(email))[0])
    body = {"token": token, "username": "dept-" + email[5:13], "password": await sealed(client, PASSWORD)}
    accepted = envelope_of(await post(client, "/auth/invitations/accept", body))["data"]
    assert (await User.objects.aget(pk=accepted["id"])).department_id == department.pk
    unknown = await _invite(client, headers, email=unique_address(), department=987654)
    assert (unknown.status_code, envelope_of(unknown)["code"]) == (422, 42200)
