"""Subscribing, confirming (and the mail that asks for it), preferences, unsubscribing and
erasure: the rules, not the pages.

Functions here change the session but do not commit; the caller commits once the whole
change is made, then sends whatever mail the change calls for.
"""

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import idna
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from kombu.exceptions import OperationalError

from . import automations, public_cache, system_mails, webhooks
from .extensions import db
from .i18n import WORDING_VERSION, ui_language
from .links import external_url, subscriber_links
from .mail.message import build_message
from .mail.render import render_email
from .models import (
    ConfirmationRequest,
    Consent,
    ConsentAction,
    Delivery,
    MailingList,
    Registration,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    TrackingEvent,
    email_hash,
    utcnow,
)

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100


class InvalidEmail(ValueError):
    """The text is not an address we can write to."""


@dataclass(frozen=True)
class RequestInfo:
    """Where a consent came from; recorded with it."""

    ip: str | None
    user_agent: str | None
    source: str


def normalize_email(raw: str) -> str:
    """A syntactically valid address, lower-cased; IDN domains kept in Unicode form.

    No DNS look-ups: deliverability is learnt from bounces, not guessed.
    """
    raw = (raw or "").strip()
    if not raw or len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(raw)
    try:
        # Mail goes out without SMTPUTF8 (see ascii_address): refuse a non-ASCII local part,
        # which could never be delivered, rather than accept it and lose the confirmation.
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidEmail(raw) from error
    return result.normalized.lower()


def ascii_address(email: str) -> str:
    """The address as SMTP without SMTPUTF8 expects it (IDN domain in punycode)."""
    if email.isascii():
        return email
    local, _, domain = email.rpartition("@")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return email


def find_subscriber(email: str) -> Subscriber | None:
    return db.session.execute(
        db.select(Subscriber).where(Subscriber.email == email)
    ).scalar_one_or_none()


def subscriber_by_token(token: str) -> Subscriber | None:
    if not token or len(token) > 64:
        return None
    return db.session.execute(
        db.select(Subscriber).where(Subscriber.token == token)
    ).scalar_one_or_none()


def all_lists() -> list[MailingList]:
    return list(db.session.execute(db.select(MailingList).order_by(MailingList.id)).scalars())


def public_lists() -> list[MailingList]:
    """The public lists, kept in memory until one changes (public_cache.py)."""
    return public_cache.public_lists()


def is_suppressed(email: str) -> bool:
    """Erased or complained: never imported or created by an editor or the API again."""
    return db.session.get(Suppression, email_hash(email)) is not None


def has_complained(email: str) -> bool:
    """A spam complaint was recorded for the address (kept even after erasure).

    Such an address is never mailed again, not even a confirmation: anyone can type it
    into the form, and only its owner may ever lift the complaint.
    """
    suppression = db.session.get(Suppression, email_hash(email))
    return suppression is not None and suppression.reason == "complaint"


def may_confirm(subscriber: Subscriber) -> bool:
    """Whether a confirmation may be mailed to, or used by, this subscriber now.

    A confirmed subscriber's requests only ever add topics (see ``subscribe``).
    """
    return subscriber.status != SubscriberStatus.COMPLAINED and not has_complained(subscriber.email)


def record_consent(
    subscriber: Subscriber,
    action: ConsentAction,
    info: RequestInfo,
    request: ConfirmationRequest | None = None,
) -> None:
    """Evidence of what the person agreed to (or a request asked for), when and from where."""
    subscriber.consents.append(
        Consent(
            action=action,
            ip=(info.ip or "")[:45] or None,
            user_agent=(info.user_agent or "")[:512] or None,
            source=info.source[:64],
            list_ids=sorted(request.list_ids if request else subscriber.list_ids),
            wording_version=WORDING_VERSION,
            language=request.language if request else subscriber.language,
        )
    )


def set_lists(subscriber: Subscriber, list_ids: set[int]) -> None:
    """Subscribe to exactly ``list_ids``, keeping the dates of subscriptions that stay."""
    current = {s.list_id: s for s in subscriber.subscriptions}
    for list_id, subscription in current.items():
        if list_id not in list_ids:
            subscriber.subscriptions.remove(subscription)
    for list_id in sorted(list_ids - current.keys()):
        subscriber.subscriptions.append(Subscription(list_id=list_id))


def subscribe(
    email: str,
    name: str | None,
    language: str,
    list_ids: set[int],
    info: RequestInfo,
    nonce: str | None = None,
    second_language: str | None = None,
) -> ConfirmationRequest | None:
    """Ask to subscribe ``email``; return the request to mail a confirmation for, if any.

    The caller answers the same way whatever happens here, so nobody learns whether an
    address was known. A complained address is left alone and never mailed. A confirmed
    subscriber who asks for topics they don't have yet gets a request for those topics
    only (their name, language and other lists change only through the preference
    centre); asking for nothing new changes and mails nothing. Anyone else gets a request
    of their own, holding what this submission asked for: a known subscriber changes only
    when its link is used (whoever typed the address, only its owner reads the mail). A
    confirmation goes out at most once per ``CONFIRM_RESEND_INTERVAL``; the consent record
    keeps every request either way.
    """
    subscriber = find_subscriber(email)
    if not may_confirm_address(subscriber, email):
        return None
    if subscriber is None:
        subscriber = Subscriber(
            email=email,
            name=name or None,
            language=language,
            second_language=second_language or None,
            status=SubscriberStatus.PENDING,
        )
        set_lists(subscriber, list_ids)
        db.session.add(subscriber)
    elif subscriber.status == SubscriberStatus.CONFIRMED:
        list_ids = list_ids - subscriber.list_ids
        if not list_ids:
            return None
        name, language = None, subscriber.language
        second_language = subscriber.second_language
    _drop_expired_requests(subscriber)
    request = ConfirmationRequest(
        nonce=nonce or secrets.token_hex(16),
        name=name or None,
        language=language,
        second_language=second_language or None,
        list_ids=sorted(list_ids),
    )
    subscriber.confirmation_requests.append(request)
    record_consent(subscriber, ConsentAction.SUBSCRIBE, info, request)
    webhooks.subscriber_event("subscriber.subscribed", subscriber)

    interval = timedelta(seconds=current_app.config["CONFIRM_RESEND_INTERVAL"])
    if subscriber.confirmation_sent_at and utcnow() - subscriber.confirmation_sent_at < interval:
        return None
    subscriber.confirmation_sent_at = request.mailed_at = utcnow()
    return request


def queue_subscription(
    email: str,
    name: str | None,
    language: str,
    list_ids: set[int],
    info: RequestInfo,
    second_language: str | None = None,
) -> bool:
    """Hand a validated subscribe request to a worker; False when the broker is unreachable.

    The request never looks the address up: the lookup, the change, the consent record and
    the mail happen in the task (``subscribe``), so how long the answer takes tells nothing
    about the address. The answer is the same whatever happens there.
    """
    from .tasks import handle_subscription  # the tasks call this module: import when used

    shown = {"language": language, "list_ids": sorted(list_ids), "source": info.source}
    try:
        handle_subscription.apply_async(
            kwargs=shown
            | {
                "email": email,
                "name": name or None,
                "ip": info.ip,
                "user_agent": info.user_agent,
                "nonce": secrets.token_hex(16),
                "second_language": second_language or None,
            },
            # What monitoring (events, Flower, ``celery inspect``) shows of the task: not
            # the address, name, IP or user agent. It also spares Celery a safe repr of
            # every argument on each subscribe.
            argsrepr="()",
            kwargsrepr=repr(shown),
        )
    except OperationalError:
        current_app.logger.exception("Could not queue a subscription")
        return False
    return True


def find_request(nonce: str) -> ConfirmationRequest | None:
    """The request recorded under ``nonce``, if a subscribe with it was handled already."""
    return db.session.execute(
        db.select(ConfirmationRequest).where(ConfirmationRequest.nonce == nonce)
    ).scalar_one_or_none()


def may_confirm_address(subscriber: Subscriber | None, email: str) -> bool:
    """Whether a subscribe request for ``email`` may lead to a confirmation at all."""
    return may_confirm(subscriber) if subscriber else not has_complained(email)


def _drop_expired_requests(subscriber: Subscriber) -> None:
    """Requests whose links have expired can never be used: keep the table small."""
    oldest = utcnow() - timedelta(seconds=current_app.config["CONFIRM_MAX_AGE"])
    for request in list(subscriber.confirmation_requests):
        if request.created_at and request.created_at < oldest:
            subscriber.confirmation_requests.remove(request)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm-subscription")


def confirmation_token(request: ConfirmationRequest) -> str:
    return _serializer().dumps({"s": request.subscriber_id, "n": request.nonce})


def build_confirmation(request: ConfirmationRequest) -> EmailMessage:
    """The confirmation mail for one request, in the language that request asked for
    (or, for a language the interface does not speak, its second language or the default)."""
    subscriber = request.subscriber
    language = ui_language(request.language, request.second_language)
    name = request.name or subscriber.name
    lists = db.session.execute(
        db.select(MailingList).where(MailingList.id.in_(request.list_ids)).order_by(MailingList.id)
    ).scalars()
    names = [item.name_in(language) for item in lists]
    adding = subscriber.status == SubscriberStatus.CONFIRMED
    written = system_mails.written("confirm", language)
    with force_locale(language):
        confirm_url = external_url(
            "public.confirm", lang=language, token=confirmation_token(request)
        )
        links = subscriber_links(subscriber, language)
        if written is not None:
            values = {"confirm_link": confirm_url, "name": name or "", "lists": ", ".join(names)}
            rendered = system_mails.render(written, values, **links)
        else:
            if adding:
                subject = _("Please confirm your new topics")
            else:
                subject = _("Please confirm your subscription")
            rendered = render_email(
                "confirm",
                subject=subject,
                adding=adding,
                reader_name=name,
                confirm_url=confirm_url,
                lists=names,
                **links,
            )
    return build_message(
        rendered,
        mail_from=current_app.config["MAIL_FROM"],
        to_email=ascii_address(subscriber.email),
        to_name=name,
        language=language,
    )


class ConfirmOutcome(enum.Enum):
    READY = "ready"  # valid and not yet used
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    EXPIRED = "expired"
    INVALID = "invalid"


def check_confirmation(
    token: str,
) -> tuple[ConfirmOutcome, Subscriber | None, ConfirmationRequest | None]:
    """What a confirmation link would do, without doing it.

    A link applies the request it was sent for and no other. Once one of a subscriber's
    links is used, the others are void; a confirmed subscriber's links change nothing.
    """
    try:
        data = _serializer().loads(token, max_age=current_app.config["CONFIRM_MAX_AGE"])
    except SignatureExpired:
        return ConfirmOutcome.EXPIRED, None, None
    except BadSignature:
        return ConfirmOutcome.INVALID, None, None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        return ConfirmOutcome.INVALID, None, None
    subscriber = db.session.get(Subscriber, data["s"])
    if subscriber is None:
        return ConfirmOutcome.INVALID, None, None
    request = next(
        (
            r
            for r in subscriber.confirmation_requests
            if secrets.compare_digest(str(data.get("n")), r.nonce)
        ),
        None,
    )
    if request is None and subscriber.status == SubscriberStatus.CONFIRMED:
        return ConfirmOutcome.ALREADY_CONFIRMED, subscriber, None
    if request is None or not may_confirm(subscriber):
        return ConfirmOutcome.INVALID, None, None
    return ConfirmOutcome.READY, subscriber, request


def confirm(token: str, info: RequestInfo) -> tuple[ConfirmOutcome, Subscriber | None]:
    """Confirm the subscription a link was sent for, as that request asked. A link works once."""
    outcome, subscriber, request = check_confirmation(token)
    if outcome is not ConfirmOutcome.READY:
        return outcome, subscriber
    if subscriber.status == SubscriberStatus.CONFIRMED:  # topics added to a subscription
        joined = _existing_lists(request.list_ids) - subscriber.list_ids
        set_lists(subscriber, subscriber.list_ids | joined)
        subscriber.confirmation_requests.clear()
        record_consent(subscriber, ConsentAction.CONFIRM, info)
        webhooks.subscriber_event("subscriber.confirmed", subscriber)
        automations.enrol(subscriber, joined)
        return ConfirmOutcome.CONFIRMED, subscriber
    subscriber.name = request.name or subscriber.name
    subscriber.language = request.language
    subscriber.second_language = request.second_language
    set_lists(subscriber, _existing_lists(request.list_ids))
    mark_confirmed(subscriber)
    subscriber.soft_bounces = 0  # the owner just read our mail: the mailbox works
    suppression = db.session.get(Suppression, email_hash(subscriber.email))
    if suppression is not None:
        # The person asked again and proved they own the mailbox: lift the old block.
        db.session.delete(suppression)
    record_consent(subscriber, ConsentAction.CONFIRM, info)
    webhooks.subscriber_event("subscriber.confirmed", subscriber)
    automations.enrol(subscriber, subscriber.list_ids)
    return ConfirmOutcome.CONFIRMED, subscriber


def mark_confirmed(subscriber: Subscriber) -> None:
    """Confirmed from now on; every open confirmation link becomes void."""
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = utcnow()
    subscriber.unsubscribed_at = None
    subscriber.confirmation_requests.clear()


def _existing_lists(list_ids: list[int]) -> set[int]:
    """The ids that still name a list (one may have been deleted since the request)."""
    if not list_ids:
        return set()
    return set(
        db.session.execute(db.select(MailingList.id).where(MailingList.id.in_(list_ids))).scalars()
    )


def update_preferences(
    subscriber: Subscriber,
    name: str | None,
    language: str,
    list_ids: set[int],
    info: RequestInfo,
    second_language: str | None = None,
) -> None:
    """Change name, language (and the second one) and lists from the preference centre.

    Choosing lists after having left subscribes again: the link came from the person's own
    mailbox, which is what a confirmation proves.
    """
    subscriber.name = name or None
    subscriber.language = language
    subscriber.second_language = second_language or None
    joined = list_ids - subscriber.list_ids
    set_lists(subscriber, list_ids)
    if list_ids and subscriber.status in (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.PENDING,
    ):
        mark_confirmed(subscriber)
    record_consent(subscriber, ConsentAction.PREFERENCES, info)
    automations.enrol(subscriber, joined)


def unsubscribe(subscriber: Subscriber, info: RequestInfo) -> bool:
    """Leave every list. Idempotent: returns False when there was nothing to do."""
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED and not subscriber.subscriptions:
        return False
    set_lists(subscriber, set())
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = utcnow()
    subscriber.confirmation_requests.clear()
    record_consent(subscriber, ConsentAction.UNSUBSCRIBE, info)
    webhooks.subscriber_event("subscriber.unsubscribed", subscriber)
    return True


def build_goodbye(subscriber: Subscriber) -> EmailMessage | None:
    """The goodbye an editor wrote for the subscriber's language, or None (it is optional)."""
    language = ui_language(subscriber.language, subscriber.second_language)
    written = system_mails.written("unsubscribed", language)
    if written is None:
        return None
    with force_locale(language):
        values = {
            "name": subscriber.name or "",
            "subscribe_link": external_url("public.subscribe", lang=language),
        }
        rendered = system_mails.render(written, values)
    return build_message(
        rendered,
        mail_from=current_app.config["MAIL_FROM"],
        to_email=ascii_address(subscriber.email),
        to_name=subscriber.name,
        language=language,
    )


def queue_goodbye(subscriber: Subscriber) -> None:
    """After an unsubscribe from the person's own link is committed: their goodbye, if
    one is written. A broker that is down costs the goodbye, never the unsubscribe."""
    from .tasks import send_goodbye  # the tasks call this module: import when used

    if not system_mails.written_in_any_language("unsubscribed"):
        return
    try:
        send_goodbye.delay(subscriber.id)
    except OperationalError:
        current_app.logger.warning("Could not queue a goodbye")


def export_data(subscriber: Subscriber) -> dict:
    """Everything we hold about a subscriber, for a GDPR access request."""

    def iso(value):
        return value.isoformat() + "Z" if value else None

    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "language": subscriber.language,
        "second_language": subscriber.second_language,
        "status": subscriber.status.value,
        "created_at": iso(subscriber.created_at),
        "confirmed_at": iso(subscriber.confirmed_at),
        "unsubscribed_at": iso(subscriber.unsubscribed_at),
        "lists": [
            {"id": s.list_id, "slug": s.mailing_list.slug, "since": iso(s.created_at)}
            for s in subscriber.subscriptions
        ],
        "consents": [
            {
                "action": c.action.value,
                "at": iso(c.created_at),
                "ip": c.ip,
                "user_agent": c.user_agent,
                "source": c.source,
                "list_ids": c.list_ids,
                "wording_version": c.wording_version,
                "language": c.language,
            }
            for c in subscriber.consents
        ],
        "registrations": [
            {
                "event_id": r.event_id,
                "status": r.status.value,
                "name": r.name,
                "language": r.language,
                "answers": r.answers,
                "at": iso(r.created_at),
                "confirmed_at": iso(r.confirmed_at),
                "cancelled_at": iso(r.cancelled_at),
            }
            for r in registrations_of(subscriber.email)
        ],
        "clicks_and_opens": tracking_records(subscriber.id),
    }


def tracking_records(subscriber_id: int) -> list[dict]:
    """The clicks and opens recorded about a subscriber (tracking.py), oldest first."""
    rows = db.session.execute(
        db.select(Delivery.issue_id, TrackingEvent)
        .join(Delivery, Delivery.id == TrackingEvent.delivery_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(TrackingEvent.at, TrackingEvent.id)
    ).all()
    return [
        {
            "issue_id": issue_id,
            "kind": event.kind.value,
            "link": event.position,
            "at": event.at.isoformat(timespec="seconds") + "Z",
            "counted": event.counted,
            "user_agent": event.user_agent,
        }
        for issue_id, event in rows
    ]


def registrations_of(email: str) -> list[Registration]:
    """Event registrations made with ``email`` (as a subscriber or not)."""
    return list(
        db.session.execute(
            db.select(Registration).where(Registration.email == email).order_by(Registration.id)
        ).scalars()
    )


def erase(subscriber: Subscriber, reason: str = "erased") -> None:
    """Delete the subscriber and everything linked to them; keep only the address's hash."""
    digest = email_hash(subscriber.email)
    if db.session.get(Suppression, digest) is None:
        db.session.add(Suppression(email_hash=digest, reason=reason))
    for registration in registrations_of(subscriber.email):
        db.session.delete(registration)
    webhooks.forget(subscriber.email)
    db.session.delete(subscriber)
