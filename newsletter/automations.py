"""Automated issues: a welcome and its follow-ups, each sent to every new subscriber of its
lists a number of days after they joined.

An automated issue is written in the composer like any other, with ``sent_after_days``
set, and switched on by starting it. Its ledger starts empty: each time someone joins
some lists (confirming a subscription, or adding lists in the preference centre), one row
per running automated issue of those lists is added, due that many days later. So it goes
out through the same ledger, rate limit and checks as a campaign; the unique (issue,
subscriber) pair means nobody gets it twice, even after leaving and coming back. It
never finishes: cancelling switches it off.
"""

from datetime import timedelta

from flask import current_app
from kombu.exceptions import OperationalError
from sqlalchemy import exists, insert, select

from . import ledger
from .campaigns import audience_conditions, claimable
from .extensions import db
from .models import (
    Delivery,
    DeliveryState,
    Issue,
    IssueList,
    IssueStatus,
    Subscriber,
    Subscription,
    utcnow,
)

DUE_NOW = "automated mail due now"  # a flag in the session's info, set by ``enrol``


def enrol(subscriber: Subscriber, joined_list_ids: set[int]) -> int:
    """Queue the running automated issues of the lists ``subscriber`` just joined; returns
    how many rows were added. Their readers follow the issue's rules, as a campaign's."""
    if not joined_list_ids:
        return 0
    db.session.flush()  # the subscriber's new state and lists, for the audience query
    issues = db.session.execute(
        select(Issue).where(
            Issue.status.in_([IssueStatus.SENDING, IssueStatus.PAUSED]),
            Issue.sent_after_days.is_not(None),
            exists().where(IssueList.issue_id == Issue.id, IssueList.list_id.in_(joined_list_ids)),
            ~exists().where(Delivery.issue_id == Issue.id, Delivery.subscriber_id == subscriber.id),
        )
    ).scalars()
    now = utcnow()
    added = 0
    for issue in issues:
        rows = ledger.audience_rows(
            issue,
            [
                Subscriber.id == subscriber.id,
                *audience_conditions(issue.list_ids & joined_list_ids, issue.audience_languages),
            ],
            due=now + timedelta(days=issue.sent_after_days),
        )
        written = db.session.execute(insert(Delivery).from_select(ledger.COLUMNS, rows)).rowcount
        if written and issue.sent_after_days == 0:
            db.session.info[DUE_NOW] = True
        added += written
    return added


def send_due_now() -> None:
    """After the commit of a joining: queue the welcome it made due at once, if any. If
    the broker is down, the campaign watcher sends it on its next round."""
    if not db.session.info.pop(DUE_NOW, False):
        return
    from .tasks import send_automations  # the tasks call this module: import when used

    try:
        send_automations.delay()
    except OperationalError:
        current_app.logger.warning("Could not queue a welcome; the watcher will send it")


def automated_issues() -> list[Issue]:
    """Every automated issue that is not cancelled, the welcome first."""
    return list(
        db.session.execute(
            select(Issue)
            .where(Issue.sent_after_days.is_not(None), Issue.status != IssueStatus.CANCELLED)
            .order_by(Issue.sent_after_days, Issue.id)
        ).scalars()
    )


def due_issues() -> list[int]:
    """Running automated issues with a row due and no worker on them."""
    now = utcnow()
    return list(
        db.session.execute(
            select(Issue.id).where(
                Issue.status == IssueStatus.SENDING,
                Issue.sent_after_days.is_not(None),
                exists().where(claimable(Issue.id, now)),
                ~exists().where(
                    Delivery.issue_id == Issue.id,
                    Delivery.state == DeliveryState.SENDING,
                    Delivery.lease_until >= now,
                ),
            )
        ).scalars()
    )


def still_on_lists(issue: Issue, subscriber_ids: list[int]) -> set[int]:
    """Who of ``subscriber_ids`` is still on one of the automated issue's lists: someone
    who left them since joining gets no follow-up."""
    return set(
        db.session.execute(
            select(Subscription.subscriber_id).where(
                Subscription.subscriber_id.in_(subscriber_ids),
                Subscription.list_id.in_(issue.list_ids),
            )
        ).scalars()
    )


def is_automated(issue_id: int) -> bool:
    return db.session.execute(
        select(Issue.sent_after_days.is_not(None)).where(Issue.id == issue_id)
    ).scalar()
