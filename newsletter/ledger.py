"""Writing an issue's delivery ledger: one row per recipient, in chunks.

Starting a campaign writes the first chunk in the request, so small lists are ready at
once; the delivery tasks write the rest, one chunk per transaction, and send what is
written meanwhile. The chunk and the issue's cursor (the last subscriber id written)
commit together, so a worker that dies mid-chunk leaves nothing half-written: the next
one starts again from the cursor, and the unique (issue, subscriber) pair guards the rest.
"""

from flask import current_app
from sqlalchemy import case, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from .campaigns import audience_conditions, event_audience_of, variant_language
from .extensions import db
from .models import (
    Delivery,
    DeliveryState,
    Fallback,
    Issue,
    IssueStatus,
    Subscriber,
    utcnow,
)

COLUMNS = [
    "issue_id",
    "subscriber_id",
    "language",
    "state",
    "attempts",
    "next_attempt_at",
    "updated_at",
]


def audience_rows(issue: Issue, conditions: list, due=None):
    """The subscribers matching ``conditions`` as ledger rows of the issue, due at ``due``
    (now by default): in their variant's language, or skipped per the fallback rule."""
    variants = sorted(issue.sent_languages)
    fallback = issue.default_language if issue.fallback == Fallback.DEFAULT else None
    language = variant_language(variants, fallback)
    state = case(
        (language.is_(None), literal(DeliveryState.SKIPPED.value)),
        else_=literal(DeliveryState.QUEUED.value),
    )
    now = utcnow()
    return select(
        literal(issue.id),
        Subscriber.id,
        language,
        state,
        literal(0),
        literal(due or now),
        literal(now),
    ).where(*conditions)


def _audience(issue: Issue, after: int):
    """Every confirmed subscriber of the issue's lists (and languages) past ``after``, by id."""
    return audience_rows(
        issue,
        [
            Subscriber.id > after,
            *audience_conditions(
                issue.list_ids, issue.audience_languages, event_audience_of(issue)
            ),
        ],
    )


def begin(issue: Issue) -> int:
    """Write the first chunk of a starting issue's ledger; return how many rows it will
    have (exact once complete, else the audience counted now)."""
    issue.ledger_written = 0
    issue.ledger_cursor = 0
    issue.ledger_ready_at = None
    _write_chunk(issue)
    if issue.ledger_ready_at is None:
        rest = _audience(issue, issue.ledger_cursor).subquery()
        more = db.session.execute(select(func.count()).select_from(rest)).scalar()
        issue.ledger_total = issue.ledger_written + more
    return issue.ledger_total


def _write_chunk(issue: Issue) -> None:
    size = current_app.config["LEDGER_CHUNK_ROWS"]
    rows = _audience(issue, issue.ledger_cursor).order_by(Subscriber.id).limit(size)
    written = (
        db.session.execute(
            insert(Delivery).from_select(COLUMNS, rows).returning(Delivery.subscriber_id)
        )
        .scalars()
        .all()
    )
    issue.ledger_written += len(written)
    if written:
        issue.ledger_cursor = max(written)
    if len(written) < size:
        issue.ledger_ready_at = utcnow()
        issue.ledger_total = issue.ledger_written


def write_next_chunk(issue_id: int) -> bool:
    """Write one more chunk of a sending issue's ledger, unless another worker is writing
    one right now or there is nothing left to write; True when a chunk was written."""
    state = db.session.execute(
        select(Issue.status, Issue.ledger_ready_at).where(Issue.id == issue_id)
    ).first()
    if state is None or state.status != IssueStatus.SENDING or state.ledger_ready_at:
        return False
    issue = db.session.execute(
        select(Issue)
        .where(Issue.id == issue_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar()
    # Under the lock: not paused, cancelled or completed meanwhile.
    if issue is None or issue.status != IssueStatus.SENDING or issue.ledger_ready_at:
        db.session.rollback()
        return False
    try:
        _write_chunk(issue)
        db.session.commit()
    except IntegrityError:
        # SQLite has no row locks to skip: another writer read the same cursor and wrote
        # this chunk first; the unique (issue, subscriber) pair kept it from being doubled.
        db.session.rollback()
        return False
    return True
