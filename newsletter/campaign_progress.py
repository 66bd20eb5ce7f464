"""What the delivery ledger says of issues: progress per language, failed recipients,
and the summaries the issue list and the dashboard show for many issues at once."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import case, func, select

from .extensions import db
from .models import Delivery, DeliveryState, Issue, IssueVariant, Subscriber, utcnow

STATES = ("queued", "sending", "sent", "failed", "skipped")


@dataclass
class LanguageProgress:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    recent: int = 0

    @property
    def remaining(self) -> int:
        return self.queued + self.sending

    @property
    def total(self) -> int:
        return self.remaining + self.sent + self.failed + self.skipped

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    def add(self, other: "LanguageProgress") -> None:
        for name in (*STATES, "recent"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Progress:
    window: int
    languages: dict[str, LanguageProgress] = field(default_factory=dict)

    @property
    def overall(self) -> LanguageProgress:
        total = LanguageProgress()
        for part in self.languages.values():
            total.add(part)
        return total

    @property
    def rate(self) -> float:
        """Messages per second over the last ``window`` seconds."""
        return self.overall.recent / self.window


@dataclass(frozen=True)
class Preparation:
    """How far the ledger of a started issue is written (ledger.py)."""

    written: int
    total: int


def preparation(issue: Issue) -> Preparation | None:
    """None once the ledger is complete (or the issue has not started)."""
    if not issue.preparing:
        return None
    return Preparation(issue.ledger_written, max(issue.ledger_total or 0, issue.ledger_written))


def progress(issue_id: int, window: int = 10) -> Progress:
    """Sent, failed, skipped, remaining and current rate per language, in one query."""
    since = utcnow() - timedelta(seconds=window)
    rows = db.session.execute(
        select(
            Delivery.language,
            Delivery.state,
            func.count(),
            func.sum(case((Delivery.sent_at >= since, 1), else_=0)),
        )
        .where(Delivery.issue_id == issue_id)
        .group_by(Delivery.language, Delivery.state)
    )
    result = Progress(window=window, languages=defaultdict(LanguageProgress))
    for language, state, count, recent in rows:
        part = result.languages[language or "-"]
        setattr(part, DeliveryState(state).value, count)
        part.recent += recent or 0
    result.languages = dict(result.languages)
    return result


def progress_summaries(issue_ids: list[int]) -> dict[int, LanguageProgress]:
    """Ledger rows per state of many issues (all languages together), in one GROUP BY."""
    rows = db.session.execute(
        select(Delivery.issue_id, Delivery.state, func.count())
        .where(Delivery.issue_id.in_(issue_ids))
        .group_by(Delivery.issue_id, Delivery.state)
    )
    result: dict[int, LanguageProgress] = defaultdict(LanguageProgress)
    for issue_id, state, count in rows:
        summary = result[issue_id]
        setattr(summary, DeliveryState(state).value, count)
    return dict(result)


def issue_languages(issue_ids: list[int]) -> dict[int, list[str]]:
    """The languages each issue has a variant in, sorted, in one query."""
    rows = db.session.execute(
        select(IssueVariant.issue_id, IssueVariant.language)
        .where(IssueVariant.issue_id.in_(issue_ids))
        .order_by(IssueVariant.language)
    )
    result: dict[int, list[str]] = defaultdict(list)
    for issue_id, language in rows:
        result[issue_id].append(language)
    return dict(result)


def failed_deliveries(issue_id: int, limit: int, offset: int = 0) -> list:
    """Failed recipients with the server's last answer, in ledger order."""
    return list(
        db.session.execute(
            select(
                Subscriber.email,
                Delivery.language,
                Delivery.attempts,
                Delivery.last_code,
                Delivery.last_response,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.issue_id == issue_id, Delivery.state == DeliveryState.FAILED)
            .order_by(Delivery.id)
            .limit(limit)
            .offset(offset)
        ).all()
    )
