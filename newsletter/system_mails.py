"""Mails the system sends, written by editors per language: a subject and a Markdown body
(the issues' dialect: buttons, images) with placeholders such as ``{confirm_link}``. A
written mail replaces the built-in text for its language until it is reset; languages
without one keep the built-in text, translated.

A mail is refused unless it has every placeholder its kind needs (a confirmation without
its link could never be used) and no placeholder it doesn't know.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .extensions import db
from .mail.markdown_dialect import body_blocks, body_text
from .mail.message import one_line
from .mail.render import RenderedEmail, mjml_to_html
from .models import Event, SystemMail

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
    draft: Callable[[], tuple[str, str]]  # the built-in text as a first draft, in the locale
    event: bool = False  # about an event registration: listed when events exist
    built_in: bool = True  # False: sent only in the languages an editor wrote it in


def hello() -> str:
    return _("Hello %(name)s,", name="{name}")


def link(label: str, placeholder: str) -> str:
    return f"[{label}]({{{placeholder}}})"


def confirm_draft() -> tuple[str, str]:
    return _("Please confirm your subscription"), "\n\n".join(
        [
            hello(),
            _("Thank you for subscribing. Please confirm your address to start receiving:")
            + " {lists}",
            "::button[" + _("Confirm my subscription") + "]({confirm_link})",
            _("This link is valid for 7 days and can be used once."),
        ]
    )


def goodbye_draft() -> tuple[str, str]:
    return _("You are unsubscribed"), "\n\n".join(
        [
            hello(),
            _("You have left all our lists and will receive no more of our news."),
            link(_("Subscribe again"), "subscribe_link"),
        ]
    )


EVENT_WHY = _l(
    "You receive this email because this address was registered for an event. If it was "
    "not you, ignore it or cancel the registration."
)
TITLE = "{title}"


def event_kind(label, subject, text, confirm: bool = False, manage: bool = True) -> Kind:
    """A registration mail: ``subject`` and ``text`` are gettext calls taking the title."""

    def draft() -> tuple[str, str]:
        parts = [hello(), text()]
        if confirm:
            parts.append("::button[" + _("Confirm my registration") + "]({confirm_link})")
        parts.append(link(_("About the event"), "event_link"))
        if manage:
            parts.append(link(_("Your registration: see it or cancel it"), "manage_link"))
        return subject(), "\n\n".join(parts)

    return Kind(
        label=label,
        required=("confirm_link",) if confirm else (),
        optional=("name", "title", "event_link") + (("manage_link",) if manage else ()),
        why=EVENT_WHY,
        urls=("confirm_link", "event_link", "manage_link"),
        draft=draft,
        event=True,
    )


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
        draft=confirm_draft,
    ),
    "unsubscribed": Kind(
        label=_l("Goodbye after unsubscribing (optional)"),
        required=(),
        optional=("name", "subscribe_link"),
        why=_l(
            "You receive this email because this address just left all our lists. It is the "
            "last one."
        ),
        urls=("subscribe_link",),
        draft=goodbye_draft,
        built_in=False,
    ),
    "registration_confirm": event_kind(
        _l("Confirmation of a registration"),
        lambda: _("Please confirm your registration: %(title)s", title=TITLE),
        lambda: _(
            "Please confirm your registration for “%(title)s” with the button below.",
            title=TITLE,
        ),
        confirm=True,
    ),
    "registered": event_kind(
        _l("Registered for an event"),
        lambda: _("You are registered: %(title)s", title=TITLE),
        lambda: _(
            "You are registered for “%(title)s”. The event is in the attached calendar file.",
            title=TITLE,
        ),
    ),
    "waiting": event_kind(
        _l("On the waiting list"),
        lambda: _("You are on the waiting list: %(title)s", title=TITLE),
        lambda: _(
            "“%(title)s” is full. You are on the waiting list: we will write to you as soon "
            "as a place comes free.",
            title=TITLE,
        ),
    ),
    "promoted": event_kind(
        _l("A place came free"),
        lambda: _("A place came free for you: %(title)s", title=TITLE),
        lambda: _(
            "A place came free: you are now registered for “%(title)s”. The event is in "
            "the attached calendar file.",
            title=TITLE,
        ),
    ),
    "full": event_kind(
        _l("No place left"),
        lambda: _("Sorry, no place is left: %(title)s", title=TITLE),
        lambda: _(
            "Sorry: the last place for “%(title)s” went before you confirmed, and there is "
            "no waiting list.",
            title=TITLE,
        ),
        manage=False,
    ),
}
PLACEHOLDER_HELP = {
    "confirm_link": _l(
        "the address that confirms, e.g. in a button: ::button[Confirm]({confirm_link})"
    ),
    "name": _l("the reader's name, if they gave one"),
    "lists": _l("the topics asked for, separated by commas"),
    "title": _l("the event's title in the reader's language"),
    "event_link": _l("the address of the event's page"),
    "manage_link": _l("the address where the registrant sees or cancels the registration"),
    "subscribe_link": _l("the address of the subscription form, in the reader's language"),
}
SAMPLES = {
    "confirm_link": "https://example.org/confirm/sample",
    "name": "Ana",
    "lists": "Newsletter, Events",
    "title": "Spring seminar",
    "event_link": "https://example.org/events/1",
    "manage_link": "https://example.org/registrations/sample",
    "subscribe_link": "https://example.org/",
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


def shown_kinds() -> dict[str, Kind]:
    """The kinds editors may write: the event mails once there are events."""
    has_events = db.session.execute(select(Event.id).limit(1)).first() is not None
    return {name: kind for name, kind in KINDS.items() if has_events or not kind.event}


def draft(kind: str, language: str) -> tuple[str, str]:
    """A first draft in ``language``, from the built-in text's own translations."""
    with force_locale(language):
        return KINDS[kind].draft()


def written(kind: str, language: str) -> SystemMail | None:
    return db.session.execute(
        db.select(SystemMail).where(SystemMail.kind == kind, SystemMail.language == language)
    ).scalar_one_or_none()


def written_in_any_language(kind: str) -> bool:
    return (
        db.session.execute(select(SystemMail.id).where(SystemMail.kind == kind).limit(1)).first()
        is not None
    )


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
