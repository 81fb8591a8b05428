"""The invitations page of the admin: created through the API's service (the real mail reaches the SMTP server,
the same guard rails refuse), revoked by an action, read-only otherwise, and listed in the operator's data
scope — the same scope the API's list now applies."""

import secrets
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.mail.models import OutboxMail
from apps.onboarding.models import Invitation, token_hash
from apps.org.models import DataScope, Department, RoleScope
from apps.org.services import department_create_sync
from tests.conftest import envelope_of
from tests.factories import UserFactory
from tests.helpers import bearer_headers, grant
from tests.mail.support import parts, unique_address

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "GET:/api/v1/invitations"
DETAIL = "GET:/api/v1/invitations/{invitation_id}"
CREATE = "POST:/api/v1/invitations"
REVOKE = "DELETE:/api/v1/invitations/{invitation_id}"
ALL_CODES = (LIST, DETAIL, CREATE, REVOKE)
CHANGELIST = "/admin/onboarding/invitation/"
ADD = "/admin/onboarding/invitation/add/"


def _change(invitation: Invitation) -> str:
    return reverse("admin:onboarding_invitation_change", args=[invitation.pk])


def _staff(*codes: str, **fields: Any) -> tuple[User, Role | None]:
    user: User = UserFactory(username=unique_address("staff").split("@")[0], is_staff=True, **fields)
    role = async_to_sync(grant)(user, *codes, name=f"r-{user.username}") if codes else None
    return user, role


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _department(name: str) -> Department:
    return Department.objects.get(pk=department_create_sync(data={"name": name, "code": unique_address(name)[:30]}))


def _invitation(email: str, department: Department | None, **fields: Any) -> Invitation:
    return Invitation.objects.create(
        email=email,
        department=department,
        token_hash=token_hash(secrets.token_urlsafe(16)),
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=7)),
        **fields,
    )


def _scoped(role: Role, *departments: Department) -> None:
    scope = RoleScope.objects.create(group=role, scope=DataScope.CUSTOM)
    scope.departments.set(departments)


def _form(email: str, **overrides: Any) -> dict[str, Any]:
    data = {"email": email, "full_name": "Admin Invitee", "roles": [], "department": "", "language": "en"}
    data.update(overrides)
    return data


def test_superuser_invites_in_the_admin_and_the_real_mail_arrives(mail_worker, smtp_up):
    root, _ = _staff(is_superuser=True)
    role = async_to_sync(grant)(None, "GET:/api/v1/roles", name=f"invited-{unique_address('x')[:16]}")
    email = unique_address("admin-invitee")
    response = _client(root).post(ADD, _form(email, roles=[str(role.pk)], language="zh-hans"))
    assert response.status_code == 302, response.content.decode()[:3000]

    invitation = Invitation.objects.get(email=email)
    assert invitation.invited_by_id == root.pk and invitation.language == "zh-hans"
    assert list(invitation.roles.values_list("pk", flat=True)) == [role.pk]
    (message,) = smtp_up.wait_for(email)
    text, html = parts(message)
    assert "/accounts/invitation/?token=" in text and "href=" in html  # the service's mail, as via the API

    page = _client(root).get(CHANGELIST).content.decode()
    assert email in page and "pending" in page and role.name in page
    detail = _client(root).get(_change(invitation))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()  # read-only
    assert _client(root).post(_change(invitation), _form("other@example.test")).status_code == 403
    assert Invitation.objects.get(pk=invitation.pk).email == email


def test_the_admin_refuses_a_role_the_operator_lacks_and_a_department_outside_their_scope(mail_worker, smtp_up):
    home, other = _department("home"), _department("other")
    operator, role = _staff(*ALL_CODES, "GET:/api/v1/roles")
    assert role is not None
    User.objects.filter(pk=operator.pk).update(department=home)
    _scoped(role, home)
    beyond = async_to_sync(grant)(None, "DELETE:/api/v1/users/{user_id}", name=f"beyond-{operator.username}")
    client = _client(operator)

    form = client.get(ADD).content.decode()
    assert f'value="{beyond.pk}"' not in form  # the picker offers only roles it may give
    email = unique_address("refused")
    refused = client.post(ADD, _form(email, roles=[str(beyond.pk)]))
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not Invitation.objects.filter(email=email).exists()

    # The service's own guard rail, shown as a form error (never a 500): a department outside the scope.
    outside = client.post(ADD, _form(email, department=str(other.pk)))
    assert outside.status_code == 200
    assert "outside your data scope" in outside.content.decode()
    assert not Invitation.objects.filter(email=email).exists()
    assert not OutboxMail.objects.filter(to__contains=[email]).exists()  # no mail was queued

    inside = client.post(ADD, _form(email, department=str(home.pk)))
    assert inside.status_code == 302, inside.content.decode()[:3000]
    assert Invitation.objects.get(email=email).department_id == home.pk
    assert smtp_up.wait_for(email)


def test_the_revoke_action_revokes_pending_invitations_only():
    root, _ = _staff(is_superuser=True)
    pending = _invitation(unique_address("p"), None)
    accepted = _invitation(unique_address("a"), None, accepted_at=timezone.now())
    response = _client(root).post(
        CHANGELIST, {"action": "revoke", "_selected_action": [str(pending.pk), str(accepted.pk)]}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revoked 1 invitation." in html and "was not pending" in html
    assert Invitation.objects.get(pk=pending.pk).revoked_at is not None
    assert Invitation.objects.get(pk=accepted.pk).revoked_at is None

    revoked_list = _client(root).get(CHANGELIST, {"status": "revoked", "q": pending.email}).content.decode()
    assert pending.email in revoked_list and "revoked" in revoked_list
    assert accepted.email not in _client(root).get(CHANGELIST, {"status": "pending"}).content.decode()


def test_status_filter_and_search_match_the_api_status():
    root, _ = _staff(is_superuser=True)
    marker = unique_address("st")[:10]
    expired = _invitation(f"{marker}-e@example.test", None, expires_at=timezone.now() - timedelta(minutes=1))
    pending = _invitation(f"{marker}-p@example.test", None)
    client = _client(root)
    expired_page = client.get(CHANGELIST, {"status": "expired", "q": marker}).content.decode()
    assert expired.email in expired_page and pending.email not in expired_page
    searched = client.get(CHANGELIST, {"q": pending.email}).content.decode()
    assert pending.email in searched and expired.email not in searched
    assert client.get(CHANGELIST, {"q": "x" * 1500}).status_code == 200


def test_staff_see_exactly_what_their_codes_allow():
    target = _invitation(unique_address("t"), None)
    reader, _ = _staff(LIST, DETAIL)
    client = _client(reader)
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(_change(target)).status_code == 200
    assert client.get(ADD).status_code == 403
    assert 'value="revoke"' not in client.get(CHANGELIST).content.decode()  # no revoke without DELETE
    client.post(CHANGELIST, {"action": "revoke", "_selected_action": [str(target.pk)]})
    assert Invitation.objects.get(pk=target.pk).revoked_at is None
    assert 'href="/admin/onboarding/invitation/"' in client.get("/admin/").content.decode()

    revoker, _ = _staff(*ALL_CODES)
    assert 'value="revoke"' in _client(revoker).get(CHANGELIST).content.decode()

    list_only, _ = _staff(LIST)  # the page also shows each invitation: the list code alone opens nothing
    assert _client(list_only).get(CHANGELIST).status_code == 403
    nobody, _ = _staff("GET:/api/v1/users")
    assert _client(nobody).get(CHANGELIST).status_code == 403
    assert 'href="/admin/onboarding/invitation/"' not in _client(nobody).get("/admin/").content.decode()


async def test_the_api_and_the_admin_list_invitations_in_the_operators_data_scope(client):
    from asgiref.sync import sync_to_async

    home, other = await sync_to_async(_department)("home"), await sync_to_async(_department)("other")
    mine = await sync_to_async(_invitation)(unique_address("mine"), home)
    theirs = await sync_to_async(_invitation)(unique_address("theirs"), other)
    nowhere = await sync_to_async(_invitation)(unique_address("nowhere"), None)

    operator, role = await sync_to_async(_staff)(*ALL_CODES)
    assert role is not None
    await User.objects.filter(pk=operator.pk).aupdate(department=home)
    await sync_to_async(_scoped)(role, home)
    headers = await bearer_headers(operator)
    listed = envelope_of(await client.get("/api/v1/invitations?page_size=100", headers=headers))["data"]
    emails = {item["email"] for item in listed["items"]}
    assert mine.email in emails and theirs.email not in emails and nowhere.email not in emails
    outside = await client.get(f"/api/v1/invitations/{theirs.pk}", headers=headers)
    assert (outside.status_code, envelope_of(outside)["code"]) == (404, 40400)  # like an unknown id
    gone = await client.delete(f"/api/v1/invitations/{theirs.pk}", headers=headers)
    assert gone.status_code == 404
    assert (await Invitation.objects.aget(pk=theirs.pk)).revoked_at is None
    shown = await client.get(f"/api/v1/invitations/{mine.pk}", headers=headers)
    assert envelope_of(shown)["data"]["email"] == mine.email

    page = await sync_to_async(lambda: _client(operator).get(CHANGELIST).content.decode())()
    assert mine.email in page and theirs.email not in page and nowhere.email not in page
    assert (await sync_to_async(lambda: _client(operator).get(_change(theirs)).status_code)()) in (302, 404)

    # A role without a scope row has `all`; superusers see all.
    everyone, _ = await sync_to_async(_staff)(*ALL_CODES)
    wide = envelope_of(await client.get("/api/v1/invitations?page_size=100", headers=await bearer_headers(everyone)))[
        "data"
    ]
    assert {mine.email, theirs.email, nowhere.email} <= {item["email"] for item in wide["items"]}
    root, _ = await sync_to_async(_staff)(is_superuser=True)
    root_page = await sync_to_async(lambda: _client(root).get(CHANGELIST).content.decode())()
    assert mine.email in root_page and theirs.email in root_page and nowhere.email in root_page
