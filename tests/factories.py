"""Rows for tests, created the way the application stores them."""

from types import SimpleNamespace

from newsletter.accounts import create_user
from newsletter.extensions import db
from newsletter.models import (
    MailingList,
    Role,
    Subscriber,
    SubscriberStatus,
    Subscription,
    utcnow,
)

LIST_NAMES = {
    "newsletter": {
        "en": "Newsletter",
        "es": "Boletín",
        "fr": "Lettre d'information",
        "de": "Rundbrief",
    },
    "events": {"en": "Events", "es": "Eventos", "fr": "Événements", "de": "Veranstaltungen"},
    "members": {"en": "Members", "es": "Miembros", "fr": "Membres", "de": "Mitglieder"},
}


def make_list(slug: str, public: bool = True) -> MailingList:
    item = MailingList(slug=slug, names=LIST_NAMES.get(slug, {"en": slug}), public=public)
    db.session.add(item)
    db.session.commit()
    return item


def make_lists() -> dict[str, int]:
    """Two public lists and one private one; returns their ids by slug."""
    return {
        "newsletter": make_list("newsletter").id,
        "events": make_list("events").id,
        "members": make_list("members", public=False).id,
    }


def make_subscriber(
    email: str,
    language: str = "en",
    status: SubscriberStatus = SubscriberStatus.CONFIRMED,
    list_ids: tuple[int, ...] = (),
    name: str | None = None,
) -> Subscriber:
    subscriber = Subscriber(email=email, language=language, status=status, name=name)
    if status == SubscriberStatus.CONFIRMED:
        subscriber.confirmed_at = utcnow()
    subscriber.subscriptions = [Subscription(list_id=list_id) for list_id in list_ids]
    db.session.add(subscriber)
    db.session.commit()
    return subscriber


def subscriber_state(email: str) -> SimpleNamespace | None:
    """What the database holds for ``email``, as plain values (None when absent)."""
    subscriber = db.session.execute(
        db.select(Subscriber).filter_by(email=email)
    ).scalar_one_or_none()
    if subscriber is None:
        return None
    return SimpleNamespace(
        id=subscriber.id,
        email=subscriber.email,
        name=subscriber.name,
        language=subscriber.language,
        second_language=subscriber.second_language,
        status=subscriber.status,
        token=subscriber.token,
        requests=[
            SimpleNamespace(nonce=r.nonce, name=r.name, language=r.language, list_ids=r.list_ids)
            for r in subscriber.confirmation_requests
        ],
        confirmed_at=subscriber.confirmed_at,
        list_ids=subscriber.list_ids,
        consents=[
            SimpleNamespace(
                action=c.action,
                ip=c.ip,
                user_agent=c.user_agent,
                source=c.source,
                list_ids=c.list_ids,
                wording_version=c.wording_version,
                language=c.language,
            )
            for c in subscriber.consents
        ],
    )


def row_counts() -> dict[str, int]:
    """Rows per table: what "writes nothing" is checked against."""
    return {
        table.name: db.session.execute(db.select(db.func.count()).select_from(table)).scalar()
        for table in db.metadata.sorted_tables
    }


PASSWORD = "correct horse battery"


def make_user(email: str, role: str = "editor", language: str = "en", name: str = "") -> int:
    """An account that logs in with ``PASSWORD``; returns its id."""
    user = create_user(email, PASSWORD, Role(role), name=name, language=language)
    db.session.commit()
    return user.id
