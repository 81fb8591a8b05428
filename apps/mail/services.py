"""Queue a mail: render its templates (text, HTML, subject) in one language, keep it in the outbox, publish a send.

Templates live at `mail/<language>/<name>_subject.txt`, `mail/<language>/<name>.txt` and
`mail/<language>/<name>.html` (the HTML part is optional); a language without the template falls back to
MAIL_DEFAULT_LANGUAGE.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import translation

from apps.mail import records
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
    from apps.mail.tasks import send_mail

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
    records.submit_queued(
        records.identity(
            mail_id=mail_id, to=list(to), template=template, language=rendered.language, subject=mail.subject
        )
    )
    send_mail.apply_async(args=(mail_id,))
    return mail_id


async def mail_queue(
    *, to: Sequence[str], template: str, context: Mapping[str, Any], language: str | None = None
) -> str:
    return await sync_to_async(mail_queue_sync)(to=to, template=template, context=context, language=language)
