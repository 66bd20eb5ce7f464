"""Figures for the dashboard, each from one query however many subscribers there are."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func

from .extensions import db
from .models import Issue, IssueStatus, Subscriber, SubscriberStatus, utcnow


@dataclass
class WeekCount:
    starts: datetime
    confirmed: int


def subscribers_by(column) -> dict[str, int]:
    rows = db.session.execute(db.select(column, func.count()).group_by(column))
    return {str(getattr(key, "value", key)): count for key, count in rows}


def weekly_confirmations(weeks: int = 12, now: datetime | None = None) -> list[WeekCount]:
    """New confirmed subscribers in each of the last ``weeks`` weeks (Monday to Sunday)."""
    now = now or utcnow()
    this_monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [this_monday - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    ends = [*starts[1:], this_monday + timedelta(weeks=1)]
    confirmed = Subscriber.confirmed_at
    sums = [
        func.sum(case(((confirmed >= start) & (confirmed < end), 1), else_=0))
        for start, end in zip(starts, ends, strict=True)
    ]
    counts = db.session.execute(
        db.select(*sums).where(
            Subscriber.status == SubscriberStatus.CONFIRMED, confirmed >= starts[0]
        )
    ).one()
    return [
        WeekCount(starts=start, confirmed=count or 0)
        for start, count in zip(starts, counts, strict=True)
    ]


def recent_campaigns(limit: int = 5) -> list[Issue]:
    """The latest issues that went out or are going out."""
    return list(
        db.session.execute(
            db.select(Issue)
            .where(Issue.status.not_in([IssueStatus.DRAFT]))
            .order_by(func.coalesce(Issue.started_at, Issue.scheduled_at, Issue.created_at).desc())
            .limit(limit)
        ).scalars()
    )
