"""Invitations: issues whose texts hold an event block (``::event[12]``), the RSVP links in
each recipient's copy, the answers, and the people of an event as an issue's audience.

An RSVP link is signed for one subscriber and one event. Opening it shows a page with
buttons and only a POST records (mail scanners follow links). The links work while the
event takes registrations; after that they are expired.
"""

import hashlib
from dataclasses import dataclass
from functools import cache

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, exists, func, not_, select

from . import events, registrations
from .extensions import db
from .links import external_url
from .mail.markdown_dialect import event_ids
from .models import (
    Delivery,
    DeliveryState,
    Event,
    EventGroup,
    Invitation,
    Issue,
    Registration,
    RegistrationStatus,
    Rsvp,
    RsvpAnswer,
    Subscriber,
    utcnow,
)

ANSWERS = tuple(RsvpAnswer)
EXPIRED = _l("This invitation has expired: registration is closed.")
MAX_TOKEN_LENGTH = 200


def placeholder(event_id: int) -> str:
    """Stands in a prepared mail for the recipient's RSVP token for ``event_id``."""
    return f"__NL_RSVP_{event_id}__"


@cache
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="rsvp")


def _fingerprint(subscriber_token: str) -> str:
    # Ties the link to this subscriber row, not only to its id (SQLite reuses the ids of
    # deleted rows).
    return hashlib.sha256(subscriber_token.encode()).hexdigest()[:12]


def rsvp_token(subscriber_id: int, subscriber_token: str, event_id: int) -> str:
    secret = current_app.config["SECRET_KEY"]
    return _serializer(secret).dumps([subscriber_id, event_id, _fingerprint(subscriber_token)])


def rsvp_values(event_ids_: tuple[int, ...], subscriber: Subscriber) -> dict[str, str]:
    """The RSVP tokens of one recipient, by placeholder."""
    return {
        placeholder(event_id): rsvp_token(subscriber.id, subscriber.token, event_id)
        for event_id in event_ids_
    }


def rsvp_url(language: str, event_id: int, answer: str, token: str | None = None) -> str:
    """The link that answers ``answer``; with the placeholder when no token is given."""
    return external_url(
        "public.rsvp", lang=language, token=token or placeholder(event_id), answer=answer
    )


@dataclass(frozen=True)
class Invitee:
    subscriber: Subscriber
    event: Event


def invitee_of(token: str) -> Invitee | None:
    """Who an RSVP link is for, or None when it is forged, for someone erased since, or
    for an event that is no longer shown."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        subscriber_id, event_id, fingerprint = _serializer(current_app.config["SECRET_KEY"]).loads(
            token
        )
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(subscriber_id, int) or not isinstance(event_id, int):
        return None
    subscriber = db.session.get(Subscriber, subscriber_id)
    event = events.published_event(event_id)
    if subscriber is None or event is None or _fingerprint(subscriber.token) != fingerprint:
        return None
    return Invitee(subscriber, event)


def answer_of(invitee: Invitee) -> Rsvp | None:
    return db.session.execute(
        select(Rsvp).where(
            Rsvp.event_id == invitee.event.id, Rsvp.subscriber_id == invitee.subscriber.id
        )
    ).scalar_one_or_none()


def registration_of(invitee: Invitee) -> Registration | None:
    return registrations.registration_for(invitee.event.id, invitee.subscriber.email)


def record_answer(invitee: Invitee, answer: str) -> list[Registration]:
    """Record (or change) the answer; returns who moved up from the waiting list.

    Refused with ``registrations.Closed`` once the event takes no more registrations. A No
    also gives up the person's registration, and with it their place.
    """
    if answer not in ANSWERS:
        raise ValueError(_("Choose yes, maybe or no."))
    if not registrations.is_open(invitee.event):
        raise registrations.Closed(str(EXPIRED))
    rsvp = answer_of(invitee)
    if rsvp is None:
        rsvp = Rsvp(event_id=invitee.event.id, subscriber_id=invitee.subscriber.id)
        db.session.add(rsvp)
    rsvp.answer, rsvp.answered_at = RsvpAnswer(answer), utcnow()
    registration = registration_of(invitee)
    if answer == RsvpAnswer.NO and registration is not None:
        return registrations.cancel(registration)
    return []


def invited_events(issue: Issue) -> set[int]:
    """The events the issue's texts have a block for."""
    return {found for variant in issue.variants for found in event_ids(variant.body)}


def record_invitations(issue: Issue) -> None:
    """Remember which events the issue invites to, as it starts sending."""
    wanted = invited_events(issue)
    if not wanted:
        return
    known = set(db.session.execute(select(Event.id).where(Event.id.in_(wanted))).scalars())
    recorded = set(
        db.session.execute(
            select(Invitation.event_id).where(Invitation.issue_id == issue.id)
        ).scalars()
    )
    for event_id in sorted(known - recorded):
        db.session.add(Invitation(issue_id=issue.id, event_id=event_id))


def _invited(event_id: int):
    """SQL: the subscriber was sent an issue that invites to the event."""
    return (
        exists()
        .where(
            Delivery.subscriber_id == Subscriber.id,
            Delivery.state == DeliveryState.SENT,
            Delivery.issue_id == Invitation.issue_id,
            Invitation.event_id == event_id,
        )
        .correlate(Subscriber)
    )


def _answered(event_id: int, answer: RsvpAnswer | None = None):
    conditions = [Rsvp.subscriber_id == Subscriber.id, Rsvp.event_id == event_id]
    if answer is not None:
        conditions.append(Rsvp.answer == answer)
    return exists().where(*conditions).correlate(Subscriber)


def _registered(event_id: int, statuses) -> object:
    return (
        exists()
        .where(
            Registration.subscriber_id == Subscriber.id,
            Registration.event_id == event_id,
            Registration.status.in_(statuses),
        )
        .correlate(Subscriber)
    )


def audience_condition(event_id: int, group: EventGroup):
    """SQL on ``Subscriber``: belongs to ``group`` of the event."""
    if group == EventGroup.REGISTERED:
        return _registered(event_id, [RegistrationStatus.REGISTERED])
    if group == EventGroup.WAITING:
        return _registered(event_id, [RegistrationStatus.WAITING])
    if group == EventGroup.NO_ANSWER:
        return and_(
            _invited(event_id),
            not_(_answered(event_id)),
            not_(_registered(event_id, registrations.ACTIVE)),
        )
    return _answered(event_id, RsvpAnswer(group.value))


def group_label(group: EventGroup, title: str) -> str:
    """The audience in words, in the current locale."""
    labels = {
        EventGroup.REGISTERED: _("Registered for %(title)s", title=title),
        EventGroup.WAITING: _("On the waiting list for %(title)s", title=title),
        EventGroup.YES: _("Said yes to %(title)s", title=title),
        EventGroup.MAYBE: _("Said maybe to %(title)s", title=title),
        EventGroup.NO: _("Said no to %(title)s", title=title),
        EventGroup.NO_ANSWER: _("Invited to %(title)s, no answer yet", title=title),
    }
    return labels[group]


def audience_label(issue: Issue) -> str | None:
    """The event group an issue goes to, in words, or None when it goes to its lists."""
    if issue.audience_event_id is None or issue.audience_event_group is None:
        return None
    event = db.session.get(Event, issue.audience_event_id)
    title = events.text_in(event, str(get_locale())).title
    return group_label(issue.audience_event_group, title)


def answer_counts(event_id: int) -> dict[str, dict[str, int]]:
    """Invited and each answer, in each subscriber language and in all."""
    table: dict[str, dict[str, int]] = {
        key: {"all": 0} for key in ("invited", *(answer.value for answer in RsvpAnswer))
    }

    def add(key: str, rows) -> None:
        for language, count in rows:
            table[key]["all"] += count
            table[key][language] = table[key].get(language, 0) + count

    add(
        "invited",
        db.session.execute(
            select(Subscriber.language, func.count())
            .where(_invited(event_id))
            .group_by(Subscriber.language)
        ).all(),
    )
    rows = db.session.execute(
        select(Rsvp.answer, Subscriber.language, func.count())
        .join(Subscriber, Subscriber.id == Rsvp.subscriber_id)
        .where(Rsvp.event_id == event_id)
        .group_by(Rsvp.answer, Subscriber.language)
    ).all()
    for answer in RsvpAnswer:
        add(answer.value, [(language, n) for found, language, n in rows if found == answer])
    return table


@dataclass(frozen=True)
class EventCard:
    """An event as an issue's mail shows it in one language, RSVP links with placeholders."""

    event_id: int
    title: str
    when: str
    place: str
    summary: str
    event_url: str
    rsvp_urls: dict[str, str]  # by answer

    def text(self) -> str:
        """The card in the text part."""
        lines = [self.title, self.when, self.place, self.summary]
        lines.append(_("%(label)s: %(url)s", label=_("Programme and details"), url=self.event_url))
        lines.append(_("Will you come?"))
        lines += [
            _("%(label)s: %(url)s", label=label, url=self.rsvp_urls[answer])
            for answer, label in answer_labels().items()
        ]
        return "\n".join(line for line in lines if line)


def answer_labels() -> dict[str, str]:
    return {"yes": _("Yes, I will come"), "maybe": _("Maybe"), "no": _("No, I can't come")}


def event_cards(event_ids_: set[int], language: str) -> dict[int, EventCard]:
    """The cards of the published events among ``event_ids_``, in ``language`` (the
    current locale). An event not shown publicly has no card, and its block shows nothing."""
    cards = {}
    for event_id in sorted(event_ids_):
        event = events.published_event(event_id)
        if event is None:
            continue
        text = events.text_in(event, language)
        place = ", ".join(part for part in (text.place_name, text.place_address) if part)
        when = _(
            "%(start)s to %(end)s",
            start=events.shown_in_zone(event.starts_at, event),
            end=events.shown_in_zone(event.ends_at, event),
        )
        cards[event_id] = EventCard(
            event_id=event_id,
            title=text.title,
            when=f"{when} ({events.zone_name(event)})",
            place=place,
            summary=text.summary,
            event_url=external_url("public.event", lang=language, event_id=event_id),
            rsvp_urls={answer: rsvp_url(language, event_id, answer) for answer in ANSWERS},
        )
    return cards
