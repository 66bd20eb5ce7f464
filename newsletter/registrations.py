"""Registrations for events: taking them (double opt-in for anyone who is not a confirmed
subscriber), the capacity and the waiting list, cancelling, and the mails that tell the
registrant where they stand.

Whether a place is free is decided with the event's row locked (``FOR UPDATE`` on
PostgreSQL), so two people registering at once never get more places than there are.
"""

import enum
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from . import system_mails, webhooks
from .event_calendar import calendar_of
from .events import text_in
from .extensions import db
from .i18n import ui_language
from .links import external_url
from .mail.message import build_message
from .mail.render import render_email
from .models import (
    ConsentAction,
    Event,
    Registration,
    RegistrationStatus,
    Subscriber,
    SubscriberStatus,
    utcnow,
)
from .subscriptions import (
    RequestInfo,
    ascii_address,
    find_subscriber,
    is_suppressed,
    record_consent,
)

ACTIVE = (RegistrationStatus.PENDING, RegistrationStatus.REGISTERED, RegistrationStatus.WAITING)


class Closed(ValueError):
    """Registration is over: the deadline passed or the event started."""


class Mail(enum.StrEnum):
    """What a registrant is told."""

    CONFIRM = "confirm"  # the link that confirms their address
    REGISTERED = "registered"
    WAITING = "waiting"
    PROMOTED = "promoted"  # a place came free for someone on the waiting list
    FULL = "full"  # confirmed, but the last place went meanwhile and there is no list


def closes_at(event: Event) -> datetime:
    return event.registration_deadline or event.starts_at


def is_open(event: Event) -> bool:
    return event.published and utcnow() < closes_at(event)


def registered_count(event_id: int) -> int:
    return db.session.execute(
        db.select(db.func.count(Registration.id)).where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.REGISTERED,
        )
    ).scalar_one()


def is_full(event: Event) -> bool:
    return event.capacity is not None and registered_count(event.id) >= event.capacity


def register(
    event: Event, email: str, name: str, language: str, answers: dict[str, str] | None = None
) -> tuple[Registration, Mail]:
    """Take a registration for a normalized ``email``; returns it and the mail to send.

    Someone already registered, waiting or pending is sent where they stand again, and a
    cancelled registration starts again: the page answers the same in every case.
    """
    if not is_open(event):
        raise Closed(_("Registration for this event is closed."))
    # Locked before the new row refers to it: taken after, two such requests deadlock.
    locked_event(event.id)
    registration = registration_for(event.id, email)
    if registration is not None and registration.status in ACTIVE:
        return registration, MAIL_FOR_STATUS[registration.status]
    if registration is None:
        registration = Registration(event=event, email=email)
        db.session.add(registration)
    registration.name, registration.language = name.strip()[:100], language
    registration.answers = answers or {}
    registration.status, registration.cancelled_at = RegistrationStatus.PENDING, None
    subscriber = db.session.execute(
        db.select(Subscriber).where(Subscriber.email == email)
    ).scalar_one_or_none()
    registration.subscriber_id = subscriber.id if subscriber is not None else None
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        webhooks.registration_event(registration)
        return registration, Mail.CONFIRM
    registration.confirmed_at = utcnow()  # the subscription confirmed the address
    db.session.flush()
    mail = admit(registration)
    webhooks.registration_event(registration)
    return registration, mail


def registration_for(event_id: int, email: str) -> Registration | None:
    """The registration of ``email`` for the event, whatever its status."""
    return db.session.execute(
        db.select(Registration).where(
            Registration.event_id == event_id, Registration.email == email
        )
    ).scalar_one_or_none()


def confirm(registration: Registration, info: RequestInfo) -> Mail | None:
    """The address is confirmed: a place, a place on the waiting list, or full. None when
    it was confirmed before (the link works once).

    Someone we did not know becomes a subscriber of no list, so that issues to the
    people of the event (reminders, a change of venue) reach them, with an unsubscribe
    link like every issue.
    """
    if registration.status != RegistrationStatus.PENDING:
        return None
    if not is_open(registration.event):
        raise Closed(_("Registration for this event is closed."))
    registration.confirmed_at = utcnow()
    if registration.subscriber_id is None:
        registration.subscriber_id = subscriber_for(registration, info)
    mail = admit(registration)
    webhooks.registration_event(registration)
    return mail


def subscriber_for(registration: Registration, info: RequestInfo) -> int | None:
    """The subscriber row of a confirmed registrant, created if there is none; None for an
    address that was erased or complained about (it must stay out of the lists)."""
    found = find_subscriber(registration.email)
    if found is not None:
        return found.id
    if is_suppressed(registration.email):
        return None
    subscriber = Subscriber(
        email=registration.email,
        name=registration.name or None,
        language=registration.language,
        status=SubscriberStatus.CONFIRMED,
        confirmed_at=utcnow(),
    )
    db.session.add(subscriber)
    record_consent(subscriber, ConsentAction.CONFIRM, info)
    db.session.flush()
    return subscriber.id


def admit(registration: Registration) -> Mail:
    """Give ``registration`` a place if one is free, else the waiting list, else nothing."""
    event = locked_event(registration.event_id)
    if event.capacity is None or registered_count(event.id) < event.capacity:
        registration.status = RegistrationStatus.REGISTERED
        return Mail.REGISTERED
    if event.waiting_list:
        registration.status = RegistrationStatus.WAITING
        return Mail.WAITING
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    return Mail.FULL


def locked_event(event_id: int) -> Event:
    return db.session.execute(
        db.select(Event).where(Event.id == event_id).with_for_update()
    ).scalar_one()


def cancel(registration: Registration) -> list[Registration]:
    """Give the place up; returns who moved up from the waiting list into it."""
    if registration.status == RegistrationStatus.CANCELLED:
        return []
    had_place = registration.status == RegistrationStatus.REGISTERED
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    db.session.flush()
    webhooks.registration_event(registration)
    return promote(registration.event_id) if had_place else []


def promote(event_id: int) -> list[Registration]:
    """Fill free places from the waiting list, first come first served."""
    event = locked_event(event_id)
    free = None if event.capacity is None else event.capacity - registered_count(event_id)
    waiting = db.session.execute(
        db.select(Registration)
        .where(Registration.event_id == event_id, Registration.status == RegistrationStatus.WAITING)
        .order_by(Registration.confirmed_at, Registration.id)
        .limit(free)
    ).scalars()
    promoted = list(waiting)
    for registration in promoted:
        registration.status = RegistrationStatus.REGISTERED
        webhooks.registration_event(registration)
    return promoted


def give_place(registration: Registration) -> bool:
    """An editor moves someone from the waiting list to a place, even past the capacity
    (the editor decides there is room); False if they were not waiting."""
    if registration.status != RegistrationStatus.WAITING:
        return False
    registration.status = RegistrationStatus.REGISTERED
    webhooks.registration_event(registration)
    return True


def by_token(token: str) -> Registration | None:
    if not isinstance(token, str) or len(token) > 64:
        return None
    return db.session.execute(
        db.select(Registration).where(Registration.token == token)
    ).scalar_one_or_none()


def event_registrations(event_id: int) -> list[Registration]:
    return list(
        db.session.execute(
            db.select(Registration)
            .where(Registration.event_id == event_id)
            .order_by(Registration.created_at, Registration.id)
        ).scalars()
    )


def totals(event_id: int) -> dict[str, int]:
    """How many registrations of the event have each status (every status present)."""
    rows = db.session.execute(
        db.select(Registration.status, db.func.count(Registration.id))
        .where(Registration.event_id == event_id)
        .group_by(Registration.status)
    ).all()
    found = {status.value: count for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in RegistrationStatus}


def counts(registrations: list[Registration]) -> dict[str, dict[str, int]]:
    """Per status, the number of registrations in each language and in all."""
    table: dict[str, dict[str, int]] = {status.value: {"all": 0} for status in RegistrationStatus}
    for registration in registrations:
        row = table[registration.status.value]
        row["all"] += 1
        row[registration.language] = row.get(registration.language, 0) + 1
    return table


MAIL_FOR_STATUS = {
    RegistrationStatus.PENDING: Mail.CONFIRM,
    RegistrationStatus.REGISTERED: Mail.REGISTERED,
    RegistrationStatus.WAITING: Mail.WAITING,
}


# The system mail (system_mails.KINDS) an editor may write for each.
SYSTEM_MAIL = {
    Mail.CONFIRM: "registration_confirm",
    Mail.REGISTERED: "registered",
    Mail.WAITING: "waiting",
    Mail.PROMOTED: "promoted",
    Mail.FULL: "full",
}


def build_mail(registration: Registration, kind: Mail):
    """The mail ``kind`` in the registrant's language, as an editor wrote it or built in; a
    place comes with the .ics."""
    event = registration.event
    language = ui_language(registration.language)
    written = system_mails.written(SYSTEM_MAIL[kind], language)
    with force_locale(language):
        text = text_in(event, language)
        event_url = external_url("public.event", lang=language, event_id=event.id)
        confirm_url = external_url(
            "public.confirm_registration", lang=language, token=registration.token
        )
        manage_url = external_url("public.registration", lang=language, token=registration.token)
        subjects = {
            Mail.CONFIRM: _("Please confirm your registration: %(title)s", title=text.title),
            Mail.REGISTERED: _("You are registered: %(title)s", title=text.title),
            Mail.WAITING: _("You are on the waiting list: %(title)s", title=text.title),
            Mail.PROMOTED: _("A place came free for you: %(title)s", title=text.title),
            Mail.FULL: _("Sorry, no place is left: %(title)s", title=text.title),
        }
        if written is not None:
            values = {
                "name": registration.name or "",
                "title": text.title,
                "event_link": event_url,
                "confirm_link": confirm_url,
                "manage_link": manage_url,
            }
            rendered = system_mails.render(written, values)
        else:
            rendered = render_email(
                "registration",
                subject=subjects[kind],
                kind=kind.value,
                reader_name=registration.name,
                title=text.title,
                event_url=event_url,
                confirm_url=confirm_url,
                manage_url=manage_url,
            )
    message = build_message(
        rendered,
        mail_from=current_app.config["MAIL_FROM"],
        to_email=ascii_address(registration.email),
        to_name=registration.name,
        language=language,
    )
    if kind in (Mail.REGISTERED, Mail.PROMOTED):
        message.add_attachment(
            calendar_of([event], language).decode(),  # text: sent with charset="utf-8"
            subtype="calendar",
            filename=f"event-{event.id}.ics",
        )
        # Making the message multipart/mixed moved its Content-* headers into the first part.
        message["Content-Language"] = language
    return message
