"""Queue a mail: render its templates (text, HTML, subject) in one language, keep it in the outbox, publish a send.

Templates live at `mail/<language>/<name>_subject.txt`, `mail/<language>/<name>.txt` and
`mail/<language>/<name>.html` (the HTML part is optional); a language without the template falls back to
MAIL_DEFAULT_LANGUAGE.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, NotFound
from apps.mail import records
from apps.mail.documents import SendStatus
from apps.mail.models import OutboxMail


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str


def mail_language(language: str | None) -> str:
    """The supported language code for `language` (e.g. zh-cn -> zh-hans), else the default."""
    if language:
        try:
            return translation.get_supported_language_variant(language.lower())
        except LookupError:
            pass
    return settings.MAIL_DEFAULT_LANGUAGE


def _has_template(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def mail_render(*, template: str, context: Mapping[str, Any], language: str | None = None) -> Rendered:
    lang = mail_language(language)
    if not _has_template(f"mail/{lang}/{template}.txt"):
        lang = settings.MAIL_DEFAULT_LANGUAGE
    base = f"mail/{lang}/{template}"
    values = {**context, "site_url": settings.SITE_URL, "lang": lang}
    with translation.override(lang):
        subject = " ".join(render_to_string(f"{base}_subject.txt", values).split())
        text = render_to_string(f"{base}.txt", values)
        html = render_to_string(f"{base}.html", values) if _has_template(f"{base}.html") else ""
    return Rendered(language=lang, subject=subject, text=text, html=html)


def mail_queue_sync(
    *, to: Sequence[str], template: str, context: Mapping[str, Any], language: str | None = None
) -> str:
    """Render, store in the outbox and publish the send; returns the mail id (also the send record's)."""
    rendered = mail_render(template=template, context=context, language=language)
    mail = OutboxMail.objects.create(
        to=list(to),
        template=template,
        language=rendered.language,
        subject=rendered.subject[:255],
        text=rendered.text,
        html=rendered.html,
    )
    mail_id = str(mail.pk)
    fields = records.identity(
        mail_id=mail_id, to=list(to), template=template, language=rendered.language, subject=mail.subject
    )
    _publish_on_commit(fields)
    return mail_id


def _publish_on_commit(fields: dict[str, Any], *, recorded: bool = False) -> None:
    """Record and publish the send once the outbox row is committed (at once outside a transaction): a worker
    taking the message earlier would find no row and take the mail for sent."""
    from apps.mail.tasks import send_mail

    def publish() -> None:
        if not recorded:
            records.submit_queued(fields)
        send_mail.apply_async(args=(fields["mail_id"],))

    transaction.on_commit(publish)


async def mail_queue(
    *, to: Sequence[str], template: str, context: Mapping[str, Any], language: str | None = None
) -> str:
    return await sync_to_async(mail_queue_sync)(to=to, template=template, context=context, language=language)


@transaction.atomic
def _resend_move(mail_id: str) -> OutboxMail | None:
    """The failed mail's outbox row becomes a new mail's (same content, new id); None when it is gone."""
    old = OutboxMail.objects.select_for_update().filter(pk=mail_id).first()
    if old is None:
        return None
    new = OutboxMail.objects.create(
        to=old.to, template=old.template, language=old.language, subject=old.subject, text=old.text, html=old.html
    )
    old.delete()
    return new


def mail_resend_sync(*, mail_id: str) -> str:
    """Queue a failed mail again, as a new mail with a send record of its own; returns the new mail id.

    The failed record stays (with `resent_as`), the new one starts `queued` (with `resent_from`) and is sent
    and retried like any mail. Only a failed mail whose content is still in the outbox can be resent, once.
    """
    try:
        mail_id = str(UUID(mail_id))
    except (ValueError, TypeError) as exc:  # the admin passes what it was given; outbox ids are UUIDs
        raise NotFound(_("No such mail")) from exc
    record = records.record_get(mail_id)
    if record is None:
        if OutboxMail.objects.filter(pk=mail_id).exists():
            raise Conflict(_("Only a failed mail can be resent, and only once"))
        raise NotFound(_("No such mail"))
    if record.get("status") != SendStatus.FAILED or record.get("resent_as"):
        raise Conflict(_("Only a failed mail can be resent, and only once"))
    new = _resend_move(mail_id)
    if new is None:
        raise Conflict(_("Only a failed mail can be resent, and only once"))
    new_id = str(new.pk)
    records.write_resent(mail_id, resent_as=new_id)
    fields = records.identity(
        mail_id=new_id, to=list(new.to), template=new.template, language=new.language, subject=new.subject
    )
    # Written before the send is published, so the first attempt's record finds `resent_from` there already.
    records.write_queued({**fields, "resent_from": mail_id})
    _publish_on_commit(fields, recorded=True)
    return new_id


async def mail_resend(*, mail_id: str) -> dict[str, str]:
    return {"mail_id": await sync_to_async(mail_resend_sync)(mail_id=mail_id)}
