"""Password reset, invitations and self sign-up: one-time links sent by mail.

Every password is checked with Django's validate_password(password, user) before user.set_password(), so the
configured validators apply here as everywhere else. A link is used up by one conditional UPDATE in the same
transaction that applies it.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.login_crypto import decrypt_with_challenge
from apps.accounts.models import User
from apps.accounts.policies import ensure_department_in_scope
from apps.accounts.services.rbac import Grantor, _department_for, _scope, ensure_can_assign_roles
from apps.accounts.sessions import sessions_end_all
from apps.core.exceptions import Conflict, LinkInvalid, NotFound, ValidationFailed
from apps.core.pagination import PageIn, paginate_queryset
from apps.mail.services import mail_queue
from apps.onboarding import events
from apps.onboarding.events import Client, record_done, record_event
from apps.onboarding.models import Invitation, OneTimeToken, link_for, new_token, token_hash
from apps.onboarding.schemas import InvitationFilter, InvitationIn
from apps.onboarding.tasks import password_reset_mail
from apps.onboarding.throttle import throttle_hit
from apps.org.models import Department
from apps.org.scope import Scope

Purpose = OneTimeToken.Purpose


def _validated(password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            _("Password is not acceptable"),
            data=[{"loc": ["body", field], "msg": message} for message in exc.messages],
        ) from exc


async def _token_valid(token: str, purpose: str) -> OneTimeToken:
    if not token or len(token) > 128:
        raise LinkInvalid()
    record = (
        await OneTimeToken.objects.select_related("user")
        .filter(token_hash=token_hash(token), purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
        .afirst()
    )
    if record is None:
        raise LinkInvalid()
    return record


def _token_use(token_id: UUID) -> bool:
    """Use the token up; False when another request was first (or it expired meanwhile)."""
    now = timezone.now()
    return bool(OneTimeToken.objects.filter(pk=token_id, used_at__isnull=True, expires_at__gt=now).update(used_at=now))


# --- password reset ------------------------------------------------------------------------------------------


async def password_reset_request(*, email: str, language: str | None, client: Client) -> None:
    """Throttle, then hand the lookup to the worker: the answer and its timing are the same for every address."""
    await throttle_hit(scope="reset", email=email, ip=client.ip)
    await sync_to_async(password_reset_mail.apply_async)(
        kwargs={
            "email": email,
            "language": language,
            "ip": client.ip,
            "user_agent": client.user_agent[:512],
            "request_id": client.request_id,
            "channel": client.channel,
        }
    )


@transaction.atomic
def _password_reset_apply(token_id: UUID, user: User, password: str) -> bool:
    if not _token_use(token_id):
        return False
    # The other reset links of the account die with this one.
    OneTimeToken.objects.filter(user=user, purpose=Purpose.PASSWORD_RESET, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    user.set_password(password)
    user.save(update_fields=["password"])
    return True


async def password_reset_confirm(*, token: str, password: str, client: Client) -> None:
    """Set the password of the link's account and end every session of it."""
    record = await _token_valid(token, Purpose.PASSWORD_RESET)
    user = record.user
    if not user.is_active:
        raise LinkInvalid()
    await sync_to_async(_validated)(password, user, "new_password")
    if not await sync_to_async(_password_reset_apply)(record.pk, user, password):
        raise LinkInvalid()
    await sessions_end_all(user_id=str(user.pk), reason="password_reset")
    await record_done(event=events.PASSWORD_RESET_DONE, user=user, client=client)


async def password_reset_confirm_sealed(*, token: str, sealed_password: str, client: Client) -> None:
    (password,) = await decrypt_with_challenge(sealed_password)
    await password_reset_confirm(token=token, password=password, client=client)


# --- invitations ---------------------------------------------------------------------------------------------


def invitation_status(invitation: Invitation, now: datetime) -> str:
    """pending, accepted, revoked or expired (never stored: a pending one past expires_at reads as expired)."""
    if invitation.accepted_at is not None:
        return Invitation.Status.ACCEPTED
    if invitation.revoked_at is not None:
        return Invitation.Status.REVOKED
    if invitation.expires_at <= now:
        return Invitation.Status.EXPIRED
    return Invitation.Status.PENDING


def invitation_out(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "full_name": invitation.full_name,
        "roles": [{"id": role.pk, "name": role.name} for role in invitation.roles.all()],
        "department": invitation.department_id,
        "status": invitation_status(invitation, timezone.now()),
        "invited_by": invitation.invited_by_id,
        "user_id": invitation.user_id,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "accepted_at": invitation.accepted_at,
        "revoked_at": invitation.revoked_at,
    }


def _pending(now: datetime) -> Q:
    return Q(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


@transaction.atomic
def _invitation_create(actor: Grantor, data: dict[str, Any], hashed: str, language: str) -> Invitation:
    roles = list(Group.objects.filter(pk__in=set(data["roles"])))
    unknown = sorted(set(data["roles"]) - {role.pk for role in roles})
    if unknown:
        raise ValidationFailed(
            _("Unknown roles"), data=[{"loc": ["body", "roles"], "msg": f"unknown role id {rid}"} for rid in unknown]
        )
    ensure_can_assign_roles(actor, roles)  # inviting with a role grants it
    # The same placement rules as creating the user directly: given or the operator's own, inside their scope.
    department_id = _department_for(actor, data.get("department"))
    ensure_department_in_scope(_scope(actor), department_id=department_id)
    email = data["email"]
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(_("An account already uses this address"))
    now = timezone.now()
    # One working invitation per address: a new one replaces the pending ones.
    Invitation.objects.filter(_pending(now), email__iexact=email).update(revoked_at=now)
    invitation = Invitation.objects.create(
        email=email,
        full_name=data["full_name"],
        invited_by=actor.user,
        department_id=department_id,
        token_hash=hashed,
        language=language,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    invitation.roles.set(roles)
    return invitation


def scoped_invitations(queryset: QuerySet[Invitation], scope: Scope) -> QuerySet[Invitation]:
    """The invitations an operator sees: those whose department is in their data scope (all: every one).

    An invitation without a department is like a user without one, whom only an `all` scope sees (the users
    list's "self" floor has no counterpart here: an invitation is nobody's own data).
    """
    if scope.everything:
        return queryset
    return queryset.filter(department_id__in=sorted(scope.departments))


async def _actor_scope(actor: User | None) -> Scope | None:
    from apps.org.selectors import scope_of

    return None if actor is None else await scope_of(actor)


async def invitation_get(*, invitation_id: UUID, actor: User | None = None) -> dict[str, Any]:
    """One invitation; one outside the actor's data scope is "not found", like an unknown id (no actor: any)."""
    queryset = Invitation.objects.prefetch_related("roles")
    if (scope := await _actor_scope(actor)) is not None:
        queryset = scoped_invitations(queryset, scope)
    invitation = await queryset.filter(pk=invitation_id).afirst()
    if invitation is None:
        raise NotFound(_("No such invitation"))
    return invitation_out(invitation)


async def invitation_create(*, actor: Grantor, data: InvitationIn, language: str | None) -> dict[str, Any]:
    from apps.mail.services import mail_language

    token, hashed = new_token()
    lang = mail_language(data.language or language)
    invitation = await sync_to_async(_invitation_create)(actor, data.model_dump(), hashed, lang)
    await mail_queue(
        to=[invitation.email],
        template="invitation",
        context={
            "name": invitation.full_name,
            "inviter": actor.user.get_full_name(),
            "site_name": settings.ADMIN_SITE_TITLE,
            "link": link_for(settings.INVITATION_LINK, token),
            "expires_at": invitation.expires_at,
        },
        language=lang,
    )
    return await invitation_get(invitation_id=invitation.pk)  # placed in scope by _invitation_create


def invitation_queryset(filters: InvitationFilter, scope: Scope) -> QuerySet[Invitation]:
    """The invitations in `scope` matching `filters`, newest first."""
    now = timezone.now()
    queryset = scoped_invitations(Invitation.objects.prefetch_related("roles"), scope).order_by("-created_at", "-id")
    if filters.email:
        queryset = queryset.filter(email__iexact=filters.email.strip())
    return invitations_with_status(queryset, filters.status, now)


def invitations_with_status(queryset: QuerySet[Invitation], status: str | None, now: datetime) -> QuerySet[Invitation]:
    """The invitations whose status (as invitation_status computes it) is `status`; None: all."""
    if status == Invitation.Status.PENDING:
        return queryset.filter(_pending(now))
    if status == Invitation.Status.ACCEPTED:
        return queryset.filter(accepted_at__isnull=False)
    if status == Invitation.Status.REVOKED:
        return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
    if status == Invitation.Status.EXPIRED:
        return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now)
    return queryset


async def invitation_list(*, actor: User, filters: InvitationFilter, page: PageIn) -> dict[str, Any]:
    """The invitations in the actor's data scope, filtered, newest first."""
    from apps.org.selectors import scope_of

    result = await paginate_queryset(invitation_queryset(filters, await scope_of(actor)), page)
    result["items"] = [invitation_out(invitation) for invitation in result["items"]]
    return result


async def invitation_revoke(*, invitation_id: UUID, actor: User | None = None) -> None:
    """Revoke a pending invitation (a revoked one stays so); one outside the actor's scope is "not found"."""
    queryset = Invitation.objects.all()
    if (scope := await _actor_scope(actor)) is not None:
        queryset = scoped_invitations(queryset, scope)
    invitation = await queryset.filter(pk=invitation_id).afirst()
    if invitation is None:
        raise NotFound(_("No such invitation"))
    if invitation.accepted_at is not None:
        raise Conflict(_("The invitation was accepted already"))
    if invitation.revoked_at is None:
        await Invitation.objects.filter(pk=invitation_id, revoked_at__isnull=True).aupdate(revoked_at=timezone.now())


async def _invitation_valid(token: str) -> Invitation:
    if not token or len(token) > 128:
        raise LinkInvalid()
    invitation = await Invitation.objects.filter(_pending(timezone.now()), token_hash=token_hash(token)).afirst()
    if invitation is None:
        raise LinkInvalid()
    return invitation


async def invitation_check(*, token: str) -> dict[str, Any]:
    invitation = await _invitation_valid(token)
    return {"email": invitation.email, "full_name": invitation.full_name, "expires_at": invitation.expires_at}


@transaction.atomic
def _invitation_accept(invitation: Invitation, user: User, password: str) -> None:
    now = timezone.now()
    if not Invitation.objects.filter(_pending(now), pk=invitation.pk).update(accepted_at=now):
        raise LinkInvalid()
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(_("Username already exists")) from exc
    user.groups.set(invitation.roles.all())
    Invitation.objects.filter(pk=invitation.pk).update(user=user)


async def invitation_accept(
    *, token: str, username: str, password: str, full_name: str | None, client: Client
) -> dict[str, Any]:
    """Create the invited account (active, with the invitation's roles); the invitation is used up."""
    invitation = await _invitation_valid(token)
    if await User.objects.filter(username=username).aexists():
        raise Conflict(_("Username already exists"))
    user = User(
        username=username,
        department_id=invitation.department_id,
        email=invitation.email,
        full_name=invitation.full_name if full_name is None else full_name,
        is_active=True,
    )
    await sync_to_async(_validated)(password, user, "password")
    await sync_to_async(_invitation_accept)(invitation, user, password)
    await record_done(event=events.INVITATION_ACCEPTED, user=user, client=client)
    return {"id": user.pk, "username": user.username, "email": user.email}


async def invitation_accept_sealed(
    *, token: str, username: str, sealed_password: str, full_name: str | None, client: Client
) -> dict[str, Any]:
    (password,) = await decrypt_with_challenge(sealed_password)
    return await invitation_accept(
        token=token, username=username, password=password, full_name=full_name, client=client
    )


# --- self sign-up --------------------------------------------------------------------------------------------


@transaction.atomic
def _signup_create(user: User, password: str, hashed: str) -> None:
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(_("Username already exists")) from exc
    OneTimeToken.objects.create(
        purpose=Purpose.EMAIL_VERIFY,
        token_hash=hashed,
        user=user,
        expires_at=timezone.now() + timedelta(seconds=settings.SIGNUP_VERIFY_TTL),
    )


async def signup(
    *, username: str, email: str, password: str, full_name: str, language: str | None, client: Client
) -> None:
    """An inactive account and a verification mail. An address that has an account gets a notice instead, and
    the caller the same answer: sign-up tells nobody which addresses have accounts."""
    if not settings.SIGNUP_ENABLED:
        raise NotFound()
    await throttle_hit(scope="signup", email=None, ip=client.ip)
    if await User.objects.filter(username=username).aexists():
        raise Conflict(_("Username already exists"))
    root = (
        await Department.objects.filter(parent__isnull=True)
        .order_by("order", "pk")
        .values_list("pk", flat=True)
        .afirst()
    )
    user = User(username=username, email=email, full_name=full_name, is_active=False, department_id=root)
    await sync_to_async(_validated)(password, user, "password")
    if await User.objects.filter(email__iexact=email).aexists():
        await mail_queue(
            to=[email],
            template="signup_exists",
            context={"link": settings.SITE_URL + "/accounts/password-reset/"},
            language=language,
        )
        await record_event(
            event=events.SIGNUP_REQUESTED,
            username=username,
            user_id=None,
            success=False,
            reason="email_taken",
            client=client,
        )
        return
    token, hashed = new_token()
    await sync_to_async(_signup_create)(user, password, hashed)
    await mail_queue(
        to=[email],
        template="signup_verify",
        context={
            "name": user.get_full_name(),
            "username": user.username,
            "link": link_for(settings.SIGNUP_VERIFY_LINK, token),
            "ttl_hours": max(1, settings.SIGNUP_VERIFY_TTL // 3600),
        },
        language=language,
    )
    await record_event(
        event=events.SIGNUP_REQUESTED,
        username=username,
        user_id=str(user.pk),
        success=True,
        reason="ok",
        client=client,
    )


async def signup_sealed(
    *, username: str, email: str, sealed_password: str, full_name: str, language: str | None, client: Client
) -> None:
    if not settings.SIGNUP_ENABLED:
        raise NotFound()
    (password,) = await decrypt_with_challenge(sealed_password)
    await signup(
        username=username, email=email, password=password, full_name=full_name, language=language, client=client
    )


@transaction.atomic
def _verify_apply(token_id: UUID, user: User) -> bool:
    if not _token_use(token_id):
        return False
    user.is_active = True
    user.save(update_fields=["is_active"])
    names = settings.SIGNUP_DEFAULT_ROLES
    if names:
        user.groups.add(*Group.objects.filter(name__in=names))
    return True


async def signup_verify(*, token: str, client: Client) -> None:
    """Confirm the address: the account becomes active (and gets SIGNUP_DEFAULT_ROLES)."""
    record = await _token_valid(token, Purpose.EMAIL_VERIFY)
    user = record.user
    if not await sync_to_async(_verify_apply)(record.pk, user):
        raise LinkInvalid()
    await record_done(event=events.EMAIL_VERIFIED, user=user, client=client)
