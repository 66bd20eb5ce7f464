"""Mails the system sends, written by editors per language: a subject and a Markdown body
(the issues' dialect: buttons, images) with placeholders such as ``{confirm_link}``. A
written mail replaces the built-in text for its language until it is reset; languages
without one keep the built-in text, translated.

A mail is refused unless it has every placeholder its kind needs (a confirmation without
its link could never be used) and no placeholder it doesn't know.
"""

import re
from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .extensions import db
from .mail.markdown_dialect import body_blocks, body_text
from .mail.message import one_line
from .mail.render import RenderedEmail, mjml_to_html
from .models import SystemMail

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")
MAX_BODY = 20_000


@dataclass(frozen=True)
class Kind:
    label: object  # lazy text
    required: tuple[str, ...]
    optional: tuple[str, ...]
    why: object  # lazy text: why the reader gets it, under the body
    urls: tuple[str, ...]  # the placeholders that stand for addresses (not escaped)


KINDS = {
    "confirm": Kind(
        label=_l("Confirmation of a subscription"),
        required=("confirm_link",),
        optional=("name", "lists"),
        why=_l(
            "You receive this email because someone, probably you, asked to subscribe this "
            "address. If it was not you, ignore it and you will receive nothing more."
        ),
        urls=("confirm_link",),
    ),
}
PLACEHOLDER_HELP = {
    "confirm_link": _l(
        "the address that confirms, e.g. in a button: ::button[Confirm]({confirm_link})"
    ),
    "name": _l("the reader's name, if they gave one"),
    "lists": _l("the topics asked for, separated by commas"),
}
SAMPLES = {
    "confirm_link": "https://example.org/confirm/sample",
    "name": "Ana",
    "lists": "Newsletter, Events",
}


class SystemMailError(ValueError):
    """A mail that can't be saved as written; the message is for the editor."""


def check(kind: str, subject: str, body: str) -> tuple[str, str]:
    """The subject and body as stored, or ``SystemMailError``."""
    spec = KINDS[kind]
    subject = one_line(subject or "")
    body = (body or "").replace("\r\n", "\n").strip()
    if not subject or len(subject) > 200:
        raise SystemMailError(_("Write a subject of at most 200 characters."))
    if not body or len(body) > MAX_BODY:
        raise SystemMailError(_("Write a text of at most 20,000 characters."))
    used = set(PLACEHOLDER.findall(subject + "\n" + body))
    unknown = used - set(spec.required) - set(spec.optional)
    if unknown:
        raise SystemMailError(
            _(
                "This mail has no placeholder %(names)s.",
                names=", ".join("{" + name + "}" for name in sorted(unknown)),
            )
        )
    missing = [name for name in spec.required if "{" + name + "}" not in body]
    if missing:
        raise SystemMailError(
            _(
                "The text must contain %(names)s, or the mail can't be used.",
                names=", ".join("{" + name + "}" for name in missing),
            )
        )
    return subject, body


def written(kind: str, language: str) -> SystemMail | None:
    return db.session.execute(
        db.select(SystemMail).where(SystemMail.kind == kind, SystemMail.language == language)
    ).scalar_one_or_none()


def save(kind: str, language: str, subject: str, body: str) -> SystemMail:
    if kind not in KINDS or language not in current_app.config["LANGUAGES"]:
        raise SystemMailError(_("There is no such mail."))
    subject, body = check(kind, subject, body)
    mail = written(kind, language)
    if mail is None:
        mail = SystemMail(kind=kind, language=language)
        db.session.add(mail)
    mail.subject, mail.body = subject, body
    return mail


def reset(kind: str, language: str) -> bool:
    """Back to the built-in text; False if it was not written."""
    mail = written(kind, language)
    if mail is None:
        return False
    db.session.delete(mail)
    return True


def _filled(text: str, values: dict[str, str], urls: tuple[str, ...], markdown: bool) -> str:
    def value(match: re.Match) -> str:
        found = values.get(match[1], "")
        if markdown and match[1] not in urls:
            return MARKDOWN_SPECIALS.sub(r"\\\1", found)
        return found

    return PLACEHOLDER.sub(value, text)


def render(mail: SystemMail, values: dict[str, str], **context) -> RenderedEmail:
    """The mail in the current locale with ``values`` in its placeholders; ``context`` is
    what the common layout shows (the reader's links)."""
    spec = KINDS[mail.kind]
    subject = _filled(mail.subject, values, (), markdown=False)
    body = _filled(mail.body, values, spec.urls, markdown=True)
    context |= {"subject": subject, "why": str(spec.why), "body_blocks": body_blocks(body)}
    html = mjml_to_html(render_template("email/system.mjml", event_cards={}, **context))
    plain = body_text(_filled(mail.body, values, spec.urls, markdown=False))
    text = render_template("email/system.txt", body_text=plain, **context)
    return RenderedEmail(subject=subject, html=html, text=text.strip() + "\n")
