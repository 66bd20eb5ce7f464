"""Delivering an issue: workers claim batches from the ledger, send, and record results.

Claims are leases: a row moves to ``sending`` with ``lease_until`` set; if the worker dies,
the lease runs out and another worker claims the row again and re-sends it with the same
Message-ID. So a crash can repeat only the messages that were in flight, never skip one.
"""

import smtplib
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from functools import cache

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update

from . import automations, invitations, ledger, metrics, tracking
from .campaigns import CampaignError, claimable, finish_if_done
from .extensions import db
from .layouts import layout_of
from .links import external_url
from .logs import log
from .mail import identifiers
from .mail.issue_mail import TRACK, PreparedVariant, Recipient, personalize, prepare_variant
from .mail.message import header_text, sender_domain
from .mail.transport import current_transport, reply_code, reply_text
from .models import (
    Delivery,
    DeliveryState,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
    utcnow,
)
from .organisation import current_organisation
from .send_rate import SendRateLimiter
from .subscriptions import ascii_address, normalize_email

CONNECTION_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    subscriber_id: int
    language: str
    message_id: str
    attempts: int


@dataclass
class BatchOutcome:
    stop: bool = False  # the issue is not sending (paused, cancelled, sent, gone)
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def claim_batch(issue_id: int, size: int, lease_seconds: int) -> list[Claim]:
    """Take up to ``size`` rows for this worker, atomically.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets workers claim side by side without waiting
    on each other. SQLite ignores it, but there the single UPDATE statement runs under the
    database's write lock, which makes the claim just as exclusive. No ORDER BY: sorting
    every open row of a large ledger for each claim would cost more than the sending.
    Each claim carries its signed Message-ID; the batch's results write it to the ledger.
    """
    now = utcnow()
    candidates = (
        select(Delivery.id)
        .where(claimable(issue_id, now))
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    rows = db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(candidates.scalar_subquery()))
        .values(
            state=DeliveryState.SENDING,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .returning(Delivery.id, Delivery.subscriber_id, Delivery.language, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    domain = sender_domain(current_app.config["MAIL_FROM"])
    claims = [
        Claim(
            row.id,
            row.subscriber_id,
            row.language,
            identifiers.message_id(issue_id, row.subscriber_id, domain),
            row.attempts,
        )
        for row in rows
    ]
    return sorted(claims, key=lambda claim: claim.delivery_id)


def seconds_until_due(issue_id: int) -> float | None:
    """When the next open row may be claimed (None when no row is open)."""
    # A queued row is due at its next attempt; one in flight when its lease ends.
    due = func.min(
        case(
            (Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at),
            else_=Delivery.lease_until,
        )
    )
    earliest = db.session.execute(
        select(due).where(
            Delivery.issue_id == issue_id,
            Delivery.state.in_([DeliveryState.QUEUED, DeliveryState.SENDING]),
        )
    ).scalar()
    if earliest is None:
        return None
    return max(0.0, (earliest - utcnow()).total_seconds())


# The variants last prepared, newest last: each may hold megabytes of encoded files, and a
# web process prepares one for every test send and preview after an edit.
_prepared: OrderedDict[tuple, PreparedVariant] = OrderedDict()
PREPARED_KEPT = 8  # four languages of two issues
_limiters: dict[tuple, SendRateLimiter] = {}


def prepared_variant(issue: Issue, language: str, tracked: bool = False) -> PreparedVariant:
    """The variant rendered once per worker process, again after an edit of the variant, of
    its files, of its layout or of the settings every mail shows (logo, colours, name,
    postal address). ``tracked``: as subscribers get it, its links through the click
    redirect when the issue counts clicks (never a test, a preview or the public copy)."""
    variant = issue.variant(language)
    config = current_app.config
    settings_saved = current_organisation().updated_at
    layout = layout_of(issue)
    key = (
        issue.id,
        language,
        variant.updated_at,
        # Files are added and removed, never changed; each has its own random token.
        tuple(attachment.token for attachment in variant.attachments),
        settings_saved,
        tracked and issue.track_clicks,
        tracked and issue.track_opens,
        layout.id,
        layout.updated_at,
        config["BASE_URL"],
        config["MAIL_FROM"],
    )
    if key in _prepared:
        _prepared.move_to_end(key)
        return _prepared[key]
    view_url = external_url("public.view_issue", lang=language, issue_id=issue.id)
    followed = tracking.variant_tracking(issue, language) if tracked else None
    _prepared[key] = prepare_variant(issue, variant, view_url, tracking=followed)
    while len(_prepared) > PREPARED_KEPT:
        _prepared.popitem(last=False)
    return _prepared[key]


def rate_limiter() -> SendRateLimiter:
    config = current_app.config
    key = (config["SEND_RATE_PER_SECOND"], config["SEND_RATE_PER_HOUR"], config["REDIS_URL"])
    if key not in _limiters:
        _limiters[key] = SendRateLimiter(*key)
    return _limiters[key]


TOKEN = "__NL_TOKEN__"


@cache
def _link_templates(base_url: str, language: str) -> dict[str, str]:
    """A subscriber's links with a placeholder token (building URLs per message is slow)."""
    return {
        "unsubscribe_url": external_url("public.unsubscribe", lang=language, token=TOKEN),
        "preferences_url": external_url("public.preferences", lang=language, token=TOKEN),
    }


def _links(language: str, token: str) -> dict[str, str]:
    templates = _link_templates(current_app.config["BASE_URL"], language)
    return {name: url.replace(TOKEN, token) for name, url in templates.items()}


class Ledger:
    """Results of one batch, written together in one UPDATE round trip."""

    def __init__(self):
        self.rows: list[dict] = []
        self.outcome = BatchOutcome()

    def _add(self, claim: Claim, state: DeliveryState, **values) -> None:
        now = utcnow()
        row = {
            "id": claim.delivery_id,
            "message_id": claim.message_id,
            "state": state,
            "attempts": claim.attempts,
            "lease_until": None,
            "next_attempt_at": now,
            "sent_at": None,
            "last_code": None,
            "last_response": None,
            "updated_at": now,
        }
        row.update(values)
        self.rows.append(row)

    def sent(self, claim: Claim) -> None:
        self._add(claim, DeliveryState.SENT, sent_at=utcnow(), last_code=250)
        self.outcome.sent += 1

    def skipped(self, claim: Claim, reason: str) -> None:
        self._add(claim, DeliveryState.SKIPPED, last_response=reason)
        self.outcome.skipped += 1

    def refused(self, claim: Claim, code: int | None, text: str) -> None:
        config = current_app.config
        text = text[:500]
        if code is not None and code >= 500 or claim.attempts >= config["DELIVERY_MAX_ATTEMPTS"]:
            self._add(claim, DeliveryState.FAILED, last_code=code, last_response=text)
            self.outcome.failed += 1
            return
        delay = config["DELIVERY_RETRY_SECONDS"] * 2 ** (claim.attempts - 1)
        due = utcnow() + timedelta(seconds=delay)
        self._add(
            claim, DeliveryState.QUEUED, next_attempt_at=due, last_code=code, last_response=text
        )
        self.outcome.retried += 1

    def results(self, results: list[tuple[Claim, Exception | None]]) -> None:
        """What the server said of each message: taken (None) or refused."""
        for claim, error in results:
            if error is None:
                self.sent(claim)
            else:
                self.refused(claim, reply_code(error), reply_text(error))

    def unrecorded(self, claims: list[Claim]) -> list[Claim]:
        done = {row["id"] for row in self.rows}
        return [claim for claim in claims if claim.delivery_id not in done]

    def put_back(self, claim: Claim, delay: float, reason: str | None = None) -> None:
        """Return an unsent claim without counting an attempt (server down, budget spent)."""
        due = utcnow() + timedelta(seconds=delay)
        self._add(
            claim,
            DeliveryState.QUEUED,
            attempts=claim.attempts - 1,
            next_attempt_at=due,
            last_response=reason,
        )
        self.outcome.retried += 1

    def write(self) -> BatchOutcome:
        if self.rows:
            db.session.execute(update(Delivery), self.rows)
        db.session.commit()
        return self.outcome


def deliver_batch(issue_id: int) -> BatchOutcome:
    """Claim one batch of this issue's ledger, send it, and record every result."""
    started = time.monotonic()
    outcome = _deliver_batch(issue_id)
    seconds = time.monotonic() - started
    metrics.record_batch(outcome, seconds)
    if outcome.claimed:
        log.info(
            "Issue %s: batch of %d, %d sent, %d failed, %d retried, %d skipped in %.2f s",
            issue_id,
            outcome.claimed,
            outcome.sent,
            outcome.failed,
            outcome.retried,
            outcome.skipped,
            seconds,
            extra={
                "event": "batch",
                "issue_id": issue_id,
                "batch_size": outcome.claimed,
                "sent": outcome.sent,
                "failed": outcome.failed,
                "retried": outcome.retried,
                "skipped": outcome.skipped,
                "seconds": round(seconds, 3),
            },
        )
    return outcome


def _deliver_batch(issue_id: int) -> BatchOutcome:
    config = current_app.config
    issue = db.session.get(Issue, issue_id)
    if issue is None or issue.status != IssueStatus.SENDING:
        return BatchOutcome(stop=True)
    claims = claim_batch(issue_id, config["DELIVERY_BATCH_SIZE"], config["DELIVERY_LEASE_SECONDS"])
    ledger = Ledger()
    ledger.outcome.claimed = len(claims)
    if not claims:
        return ledger.outcome

    subscribers = {
        row.id: row
        for row in db.session.execute(
            select(
                Subscriber.id,
                Subscriber.email,
                Subscriber.name,
                Subscriber.token,
                Subscriber.status,
            ).where(Subscriber.id.in_([claim.subscriber_id for claim in claims]))
        )
    }
    hashes = {sid: email_hash(row.email) for sid, row in subscribers.items()}
    suppressed_hashes = set(
        db.session.execute(
            select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes.values()))
        ).scalars()
    )
    suppressed = {sid for sid, digest in hashes.items() if digest in suppressed_hashes}
    if issue.automated:
        on_lists = automations.still_on_lists(issue, list(subscribers))
        subscribers = {sid: row for sid, row in subscribers.items() if sid in on_lists}
    try:
        _send_claims(issue, claims, subscribers, suppressed, ledger)
    except Exception as error:
        # Record what was sent before the failure and retry the rest later (counting the
        # attempt, so a message that always breaks ends as failed instead of looping).
        for claim in ledger.unrecorded(claims):
            ledger.refused(claim, None, f"worker error: {error!r}")
        ledger.write()
        raise
    return ledger.write()


def _send_claims(issue, claims, subscribers, suppressed: set[int], ledger: Ledger) -> None:
    config = current_app.config
    transport = current_transport()
    limiter = rate_limiter()
    variants = {
        language: prepared_variant(issue, language, tracked=True)
        for language in {claim.language for claim in claims}
    }
    budget = budget_second = 0
    # The stream reads each message's result one message late (transport.Stream).
    with transport.stream() as stream:
        try:
            for index, claim in enumerate(claims):
                subscriber = subscribers.get(claim.subscriber_id)
                if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
                    ledger.skipped(claim, "no longer subscribed")  # or, automated, left its lists
                    continue
                if claim.subscriber_id in suppressed:
                    ledger.skipped(claim, "suppressed")
                    continue
                if budget and int(time.time()) != budget_second:
                    budget = 0  # tokens belong to the second they were granted in
                if budget == 0:
                    stream.finish()  # nothing kept waiting on the server while the limiter is
                    budget = limiter.acquire(
                        len(claims) - index, config["DELIVERY_LEASE_SECONDS"] / 4
                    )
                    budget_second = int(time.time())
                    if budget == 0:
                        for rest in claims[index:]:
                            ledger.put_back(rest, 1, "waiting for the sending rate limit")
                        break
                budget -= 1
                prepared = variants[claim.language]
                address = ascii_address(subscriber.email)
                data = personalize(
                    prepared,
                    Recipient(address, subscriber.name, subscriber.token, claim.message_id),
                    _links(claim.language, subscriber.token),
                    personal_tokens(prepared, subscriber, claim.delivery_id, issue.id),
                )
                stream.send(claim, envelope_sender(prepared, claim), [address], data)
            stream.finish()
        except CONNECTION_ERRORS as error:
            ledger.results(stream.results())
            transport.drop()
            _wait_for_the_relay(issue.id, claims, ledger, error)
        finally:
            # Also before any other error: a message the server took is never sent again.
            ledger.results(stream.results())


def _wait_for_the_relay(issue_id: int, claims: list[Claim], ledger: Ledger, error) -> None:
    """Every message without a result goes back, the one in flight too (the server may not
    have taken it), without counting an attempt."""
    log.warning(
        "SMTP unavailable, issue %s waits: %s",
        issue_id,
        error,
        extra={"event": "relay_unavailable", "issue_id": issue_id},
    )
    delay = current_app.config["DELIVERY_CONNECTION_RETRY_SECONDS"]
    for rest in ledger.unrecorded(claims):
        ledger.put_back(rest, delay, str(error))


def personal_tokens(
    prepared: PreparedVariant, subscriber, delivery_id: int, issue_id: int
) -> dict[str, str]:
    """A recipient's RSVP tokens and, for a tracked issue, their delivery's token."""
    tokens = invitations.rsvp_values(prepared.event_ids, subscriber)
    if prepared.tracked:
        tokens[TRACK] = tracking.token(delivery_id, issue_id)
    return tokens


def envelope_sender(prepared: PreparedVariant, claim: Claim) -> str:
    """MAIL FROM: the delivery's own VERP address when BOUNCE_ADDRESS is set, so that its
    bounces can be tied to it; else the sender's address."""
    bounce_address = current_app.config["BOUNCE_ADDRESS"]
    if not bounce_address:
        return prepared.sender
    return identifiers.return_path(claim.delivery_id, bounce_address)


def send_test(issue: Issue, language: str, address: str) -> None:
    """Send one message of a variant to any address, exactly as subscribers get it.

    Its personal links carry no subscriber's token and nothing is written to the ledger.
    """
    variant = issue.variant(language)
    if variant is None:
        raise CampaignError(_("The issue has no text in this language."))
    email = ascii_address(normalize_email(address))
    with force_locale(language):
        subject = _("[Test] %(subject)s", subject=variant.subject)
    prepared = replace(prepared_variant(issue, language), subject_header=header_text(subject))
    message_id = make_msgid(domain=sender_domain(prepared.sender))
    data = personalize(
        prepared, Recipient(email, None, "test", message_id), _links(language, "test")
    )
    current_transport().send_raw(prepared.sender, [email], data)


def preview_message(prepared: PreparedVariant, name: str | None = None) -> EmailMessage:
    """The message as a test send delivers it, parsed back: what previews show."""
    recipient = Recipient("preview@example.invalid", name, "test", "<preview@example.invalid>")
    data = personalize(prepared, recipient, _links(prepared.language, "test"))
    return message_from_bytes(data, policy=policy.default)


def deliver_until(issue_id: int, deadline: float) -> float | None:
    """Send batches of the issue until ``deadline`` (a ``time.monotonic()`` value).

    Returns None when this worker has nothing more to do (the issue is done, paused or
    cancelled), else the seconds after which to come back: 0 when the deadline came
    first, or until the earliest open row is due (a retry, or another worker's lease).
    """
    while time.monotonic() < deadline:
        ledger.write_next_chunk(issue_id)
        outcome = deliver_batch(issue_id)
        if outcome.stop:
            return None
        if outcome.claimed:
            continue
        if finish_if_done(issue_id):
            db.session.commit()
            log.info(
                "Issue %s is sent",
                issue_id,
                extra={"event": "campaign_sent", "issue_id": issue_id},
            )
            return None
        db.session.commit()
        wait = seconds_until_due(issue_id)
        if wait is not None and wait > 1 and automations.is_automated(issue_id):
            return None  # rows due days ahead: the campaign watcher comes back for them
        if wait is None or wait > 1:
            return wait
        time.sleep(max(wait, 0.05))
    return 0.0
