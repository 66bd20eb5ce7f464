"""Building issues and audiences for the delivery tests."""

import time
from contextlib import contextmanager

from factories import make_lists, make_subscriber

from newsletter import campaigns, delivery
from newsletter.extensions import db
from newsletter.models import (
    Delivery,
    Fallback,
    Issue,
    SubscriberStatus,
    Suppression,
    email_hash,
)

BODIES = {
    "en": ("News of the week", "# Our news\n\nThe assembly meets on **Friday**."),
    "es": ("Noticias de la semana", "# Nuestras noticias\n\nLa asamblea se reúne el **viernes**."),
    "fr": ("Nouvelles de la semaine", "# Nos nouvelles\n\nL'assemblée se réunit **vendredi**."),
    "de": ("Neuigkeiten der Woche", "# Unsere Neuigkeiten\n\nDie Versammlung tagt am **Freitag**."),
}


def make_issue(
    list_ids, languages=("en", "es", "fr", "de"), fallback=Fallback.DEFAULT, audience_languages=None
) -> int:
    issue = campaigns.create_issue("Weekly", "en", set(list_ids), fallback, audience_languages)
    for language in languages:
        subject, body = BODIES[language]
        campaigns.set_variant(issue, language, subject, body, preheader=f"{language} preview")
    db.session.commit()
    return issue.id


def make_audience(per_language: int = 2) -> dict:
    """Confirmed readers in four languages plus Italian (no variant), and people who must
    get nothing: unsubscribed, bounced, complained, unconfirmed, suppressed, other list."""
    ids = make_lists()
    newsletter = (ids["newsletter"],)
    expected = {}
    for language in ("en", "es", "fr", "de", "it"):
        for number in range(per_language if language != "it" else 1):
            email = f"{language}{number}@example.org"
            make_subscriber(email, language, list_ids=newsletter, name=f"Reader {number}")
            expected[email] = language
    for status in (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
        SubscriberStatus.PENDING,
    ):
        make_subscriber(f"{status.value}@example.org", "en", status, newsletter)
    make_subscriber("suppressed@example.org", "en", list_ids=newsletter)
    db.session.add(Suppression(email_hash=email_hash("suppressed@example.org"), reason="test"))
    make_subscriber("events-only@example.org", "en", list_ids=(ids["events"],))
    db.session.commit()
    return {"lists": ids, "expected": expected}


def start(issue_id: int) -> int:
    count = campaigns.start_sending(db.session.get(Issue, issue_id))
    db.session.commit()
    return count


def ledger(issue_id: int) -> list[tuple]:
    return [
        (
            row.subscriber_id,
            row.state.value,
            row.attempts,
            row.message_id,
            row.last_code,
            row.last_response,
        )
        for row in db.session.execute(
            db.select(Delivery).where(Delivery.issue_id == issue_id).order_by(Delivery.id)
        ).scalars()
    ]


def send_all(issue_id: int, timeout: float = 20) -> None:
    """Work the issue's ledger in this process, as a worker would, until nothing is left."""
    deadline = time.monotonic() + timeout
    while (come_back := delivery.deliver_until(issue_id, deadline)) is not None:
        assert time.monotonic() < deadline, "the issue did not finish in time"
        time.sleep(min(come_back, 1) + 0.01)


@contextmanager
def configured(app, **values):
    """The app with ``values`` in its configuration for the duration of the block."""
    saved = {key: app.config[key] for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)
