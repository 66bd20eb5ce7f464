"""Subscribers created and changed by editors and API callers, who vouch for consent given
elsewhere: the rules both follow, and the refusals they answer with.

Like ``subscriptions``, functions here change the session and leave the commit to the
caller.
"""

from flask import current_app
from flask_babel import lazy_gettext as _l

from .extensions import db
from .models import ConsentAction, Subscriber, SubscriberStatus, utcnow
from .subscriptions import (
    RequestInfo,
    find_subscriber,
    is_suppressed,
    mark_confirmed,
    record_consent,
    set_lists,
    unsubscribe,
)


class ChangeRefused(Exception):
    """A change an editor or the API asked for that the rules forbid.

    ``code`` names the rule for the API; ``str()`` says it in the current language.
    """

    code = ""
    message = _l("The request conflicts with the current state.")

    def __str__(self) -> str:
        return str(self.message)


class SubscriberBlocked(ChangeRefused):
    code = "subscriber_blocked"
    message = _l("This address bounced or complained; it can't be subscribed again from here.")


class ConfirmationRequired(ChangeRefused):
    code = "confirmation_required"
    message = _l(
        "This subscriber has not confirmed yet; only the link in their confirmation"
        " mail can confirm them."
    )


class NotSubscribed(ChangeRefused):
    code = "subscriber_unsubscribed"
    message = _l("This person unsubscribed: only they can subscribe again.")


class AddressSuppressed(ChangeRefused):
    code = "address_suppressed"
    message = _l("This address was erased or complained; only its owner can subscribe it again.")


class SameLanguages(ChangeRefused):
    code = "same_languages"
    message = _l("The second language must differ from the first.")


class EmailTaken(ChangeRefused):
    code = "email_taken"
    message = _l("A subscriber with this address exists already.")


BLOCKED = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


def lists_editable(subscriber: Subscriber) -> bool:
    """Whether an editor or the API may subscribe this person to lists: only once confirmed.

    Anyone else chooses their own lists by confirming (double opt-in); a bounced or
    complained address is never subscribed again from outside.
    """
    return subscriber.status == SubscriberStatus.CONFIRMED


def _refusal(subscriber: Subscriber) -> ChangeRefused:
    """Why an editor or the API may not subscribe this (unconfirmed) person."""
    if subscriber.status in BLOCKED:
        return SubscriberBlocked()
    if subscriber.status == SubscriberStatus.PENDING:
        return ConfirmationRequired()
    return NotSubscribed()


def _check_change(subscriber: Subscriber, list_ids: set[int] | None, status) -> None:
    """Refuse the change before any of it is made (a bulk request goes on with the rest).

    Confirming is for an unsubscribed person who agreed elsewhere (the API's callers
    vouch for that), never for a pending one: anyone may have typed that address into the
    form, and only its owner, through the confirmation link, may say it was them. Leaving
    lists is always allowed.
    """
    confirming = status == SubscriberStatus.CONFIRMED and not lists_editable(subscriber)
    if confirming and subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        raise _refusal(subscriber)
    joining = list_ids is not None and bool(list_ids - subscriber.list_ids)
    leaving = status == SubscriberStatus.UNSUBSCRIBED
    if joining and not (leaving or confirming or lists_editable(subscriber)):
        raise _refusal(subscriber)


def change_subscriber(subscriber: Subscriber, changes: dict, info: RequestInfo) -> None:
    """An editor's or the API's change: the fields present in ``changes`` (validated).

    ``name``, ``language``, ``second_language`` (None: none), ``lists`` (ids of existing
    lists) and ``status`` (confirmed or unsubscribed). Raises a ``ChangeRefused`` and
    changes nothing when the rules forbid it. A change of name, languages or lists is
    recorded as a consent with ``info``.
    """
    status = SubscriberStatus(changes["status"]) if changes.get("status") else None
    list_ids = set(changes["lists"]) if changes.get("lists") is not None else None
    _check_change(subscriber, list_ids, status)
    language = changes.get("language", subscriber.language)
    second = changes.get("second_language", subscriber.second_language) or None
    if second == language:
        raise SameLanguages()
    if "name" in changes:
        subscriber.name = (changes["name"] or "").strip() or None
    subscriber.language, subscriber.second_language = language, second
    if list_ids is not None:
        set_lists(subscriber, list_ids)
    if changes.keys() & {"name", "language", "second_language", "lists"}:
        record_consent(subscriber, ConsentAction.PREFERENCES, info)
    if status == SubscriberStatus.CONFIRMED and not lists_editable(subscriber):
        mark_confirmed(subscriber)
        record_consent(subscriber, ConsentAction.CONFIRM, info)
    elif status == SubscriberStatus.UNSUBSCRIBED:
        unsubscribe(subscriber, info)


def create_subscriber(
    email: str,
    info: RequestInfo,
    *,
    name: str | None = None,
    language: str | None = None,
    second_language: str | None = None,
    list_ids: set[int] = frozenset(),
    status: SubscriberStatus = SubscriberStatus.CONFIRMED,
) -> Subscriber:
    """A subscriber whose consent was given elsewhere (the API's callers vouch for it).

    Confirmed unless ``status`` says unsubscribed. An address on file, or erased or
    complained (only its owner may subscribe it again), is refused.
    """
    if find_subscriber(email) is not None:
        raise EmailTaken()
    if is_suppressed(email):
        raise AddressSuppressed()
    language = language or current_app.config["DEFAULT_LANGUAGE"]
    if second_language and second_language == language:
        raise SameLanguages()
    subscriber = Subscriber(
        email=email,
        name=(name or "").strip() or None,
        language=language,
        second_language=second_language or None,
        status=SubscriberStatus.PENDING,
    )
    db.session.add(subscriber)
    set_lists(subscriber, set(list_ids))
    record_consent(subscriber, ConsentAction.SUBSCRIBE, info)
    if status == SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
    else:
        mark_confirmed(subscriber)
        record_consent(subscriber, ConsentAction.CONFIRM, info)
    return subscriber
